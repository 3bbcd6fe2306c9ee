"""Benchmarks: one command each, run from the project root; they print figures, they are not tests.

See benchmarks/README.md for what each one measures and the targets it reports against.
"""
