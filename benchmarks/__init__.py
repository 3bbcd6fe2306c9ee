"""The template's stock-versus-project benchmarks: one command each at the template root (`make benchmark-*`),
run against a fresh bake of the template's working tree; they print figures, they are not tests.

Plain Python, not rendered by cookiecutter: `benchmarks.project` finds the bake and its package at run time.
Each benchmark runs with the bake's interpreter, from the bake's folder (its settings and manage.py), with the
template root on PYTHONPATH. See benchmarks/README.md for what each one measures and the targets it reports
against.
"""
