# The template's own checks. `make test` is the one command: it bakes every option
# combination and runs each bake's tools and test suites (README.md, Testing).
VENV := .venv-template
PYTHON ?= python3

.PHONY: test test-fast clean

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

clean:
	rm -rf $(VENV) .pytest_cache
