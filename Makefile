# The template's own checks. `make test` is the one command: it bakes every option
# combination and runs each bake's tools and test suites (README.md, Testing).
VENV := .venv-template
PYTHON ?= python3

.PHONY: test test-fast clean verify-migrations bench-bake benchmark-migrations benchmark-provisioning benchmark-routing benchmark-fanout \
	benchmark-scale

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

# Bakes and hooks only: no dependency install inside the bakes (seconds, not minutes).
test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest tests -m "not slow" $(PYTEST_ARGS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(VENV)/bin/python -m pip install --quiet --group test
	touch $@

# Stock django-tenants against the project, side by side (benchmarks/README.md). Each target bakes the template's
# working tree with the default answers into .bench/ (reused while the template's files are unchanged), installs
# it, and runs the benchmark with the bake's interpreter from the bake's folder, with this folder on PYTHONPATH for
# `benchmarks`. DATABASE_URL / REDIS_URL select existing servers (the database user needs CREATEDB: each run works
# in a scratch database of its own and drops it); unset, the bake's embedded servers start and are stopped after.
# BENCHMARK_ARGS passes options through, e.g. make benchmark-migrations BENCHMARK_ARGS="--tenants 200 --runs 3".
# Python caches the bake's bytecode as it does on a user's machine (PYTHONDONTWRITEBYTECODE is dropped): every
# measured command starts as a deploy's second run would.
BENCH_DIR := $(CURDIR)/.bench
BENCH_PROJECT := $(BENCH_DIR)/project
BENCH_RUN = cd $(BENCH_PROJECT) && env -u VIRTUAL_ENV -u DJANGO_SETTINGS_MODULE -u PYTHONDONTWRITEBYTECODE PYTHONPATH=$(CURDIR) \
	BENCHMARK_PROJECT=$(BENCH_PROJECT) .venv/bin/python -m
# After each run: stop the embedded servers the bake may have started (nothing when the URLs are set).
BENCH_DOWN = status=$$?; (cd $(BENCH_PROJECT) && .venv/bin/python -m config.devservices down >/dev/null); exit $$status

# BENCHMARK_ROUTING=path bakes with tenant_routing=path (tenants at /t/<slug>/ on one host); the routing
# benchmark then routes the project's requests by path, stock's by host (benchmarks/README.md).
BENCHMARK_ROUTING ?= domain
bench-bake: $(VENV)/.installed
	$(VENV)/bin/python -m benchmarks.bake $(BENCH_DIR) tenant_routing=$(BENCHMARK_ROUTING)

# The stock subprocess executor costs one interpreter start-up per tenant (over an hour at 1,000 tenants):
# left out unless BENCHMARK_ARGS is given.
benchmark-migrations: BENCHMARK_ARGS ?= --skip-subprocess
benchmark-migrations: bench-bake
	$(BENCH_RUN) benchmarks.migrate_fleet --scratch-db $(BENCHMARK_ARGS); $(BENCH_DOWN)

benchmark-provisioning: bench-bake
	$(BENCH_RUN) benchmarks.provisioning --scratch-db $(BENCHMARK_ARGS); $(BENCH_DOWN)

# Starts a PostgreSQL of its own (statement log), 2,000 tenants; BENCHMARK_ARGS="--runs 3 --seconds 10".
benchmark-routing: bench-bake
	$(BENCH_RUN) benchmarks.routing $(BENCHMARK_ARGS); $(BENCH_DOWN)

benchmark-fanout: bench-bake
	$(BENCH_RUN) benchmarks.celery_fanout --scratch-db $(BENCHMARK_ARGS); $(BENCH_DOWN)

# One fleet grown to 1,000 then 10,000 tenants on a PostgreSQL of its own (like routing: statements counted at the
# server), every figure at both sizes with its growth factor; BENCHMARK_ARGS="--sizes 50,200" for a quick check.
benchmark-scale: bench-bake
	$(BENCH_RUN) benchmarks.scale $(BENCHMARK_ARGS); $(BENCH_DOWN)

# The stock-equivalence harness (stock_equivalence/, README.md) on a fresh default bake: copied into the bake's
# tests/, run there with its pytest, removed. MIGRATION_SABOTAGE=skip-add-index or public-sql breaks the bake's
# executor on purpose: the run must then fail. DATABASE_URL / REDIS_URL as for the benchmarks. Two pytest-xdist
# workers, a test file each at a time (about 37 s instead of 55 s on 2 cores).
verify-migrations: bench-bake
	rm -rf $(BENCH_PROJECT)/tests/stock_equivalence
	cp -r stock_equivalence $(BENCH_PROJECT)/tests/stock_equivalence
	cd $(BENCH_PROJECT) && env -u VIRTUAL_ENV -u DJANGO_SETTINGS_MODULE .venv/bin/python -m pytest tests/stock_equivalence \
		--tb=short -p no:cacheprovider -n 2 --dist loadfile $(PYTEST_ARGS); status=$$?; rm -rf tests/stock_equivalence; \
		(.venv/bin/python -m config.devservices down >/dev/null); exit $$status

clean:
	rm -rf $(VENV) .pytest_cache
	if [ -x $(BENCH_PROJECT)/.venv/bin/python ]; then cd $(BENCH_PROJECT) && .venv/bin/python -m config.devservices down; fi
	rm -rf $(BENCH_DIR)
