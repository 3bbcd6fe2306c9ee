"""Signals of fleet operations, for the packages above this one to act on without being imported here."""

from django.dispatch import Signal

# Sent by `migrate_schemas` after a full, successful run over the tenants (not for --schema or one --tenant).
# Keyword arguments: stdout (the command's OutputWrapper, for receivers to report on) and verbosity (0-3).
fleet_migrated = Signal()
