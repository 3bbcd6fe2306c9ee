"""Base errors of the domain layer, shared by every app (plain Python, no Django).

Views, the API and commands map these to responses and exit codes:
InvalidValue -> 400 / exit 2, NotFound -> 404 / exit 2, Conflict -> 409 / exit 2, Forbidden -> 403 / exit 2
(with its machine-readable `code` in the API's body).
"""


class DomainError(Exception):
    """A business rule refused the operation; the message names the value and what is accepted."""


class InvalidValue(DomainError):
    """An input value is malformed or out of range."""


class NotFound(DomainError):
    """The referenced object does not exist (in the current tenant)."""


class Conflict(DomainError):
    """The operation clashes with existing state (a duplicate, an overlapping booking, ...)."""


class Forbidden(DomainError):
    """The tenant's plan or billing state refuses the operation (a plan limit, a read-only tenant).

    `code` is a machine-readable reason, returned by the API with the 403."""

    code = "forbidden"


def shown(value: object, limit: int = 100) -> str:
    """`value` as an error message names it: its repr, cut after `limit` characters when longer.

    A long string keeps its first `limit` characters and its length: `'xxxx'... (300 characters)`, so a
    megabyte of input never becomes a megabyte of error message.
    """
    text = repr(value)
    if len(text) <= limit + 2:
        return text
    if isinstance(value, str):
        return f"{value[:limit]!r}... ({len(value)} characters)"
    return f"{text[:limit]}..."
