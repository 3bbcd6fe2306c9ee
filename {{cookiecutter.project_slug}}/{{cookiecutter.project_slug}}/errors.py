"""Base errors of the domain layer, shared by every app (plain Python, no Django).

Views, the API and commands map these to responses and exit codes:
InvalidValue -> 400 / exit 2, NotFound -> 404 / exit 2, Conflict -> 409 / exit 2.
"""


class DomainError(Exception):
    """A business rule refused the operation; the message names the value and what is accepted."""


class InvalidValue(DomainError):
    """An input value is malformed or out of range."""


class NotFound(DomainError):
    """The referenced object does not exist (in the current tenant)."""


class Conflict(DomainError):
    """The operation clashes with existing state (a duplicate, an overlapping booking, ...)."""
