"""`migrate` is `migrate_schemas`, as in django-tenants (tests and tooling call `migrate`)."""

from .migrate_schemas import Command

__all__ = ["Command"]
