"""The bake under test: the Python package of the generated project, found through its tenancy app.

The harness lives in the template repository and is copied into a bake's tests/ to run there, so it names
the bake's package at run time instead of at bake time.
"""

from importlib import import_module
from types import ModuleType

from django.apps import apps

PROJECT = apps.get_app_config("tenancy").name.rpartition(".")[0]


def project_module(name: str) -> ModuleType:
    """The bake's module `name`, dotted below its package (e.g. "fleet.executor"); ImportError when missing."""
    return import_module(f"{PROJECT}.{name}")
