"""Users of a legacy single-tenant Django app, brought into the global user table (adopt_single_tenant).

A legacy app keeps its users in its own table (Django's `auth_user` by default). Here they become
global accounts (`accounts.User`, public schema), one per email address compared case-insensitively:
legacy rows whose emails differ only in case are merged into one account, and every merge is reported.
Rows without a usable email are reported and left out, unless placeholder addresses are asked for.

Reading is separate from writing so that `--dry-run` can print every merge without changing anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.hashers import identify_hasher
from django.db import connection

from ..accounts.domain import Role, normalize_email
from ..accounts.models import Membership, User
from ..errors import DomainError, InvalidValue

# Columns of Django's auth_user; only `id` and `password` are required of a legacy user table.
REQUIRED_COLUMNS = ("id", "password")
OPTIONAL_COLUMNS = (
    "email", "username", "first_name", "last_name", "is_active", "is_staff", "is_superuser", "last_login",
    "date_joined",
)  # fmt: skip
NAME_MAX = 150  # accounts.User.name


@dataclass(frozen=True)
class LegacyUser:
    """One row of the legacy user table."""

    id: int
    password: str
    email: str | None
    username: str
    name: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    last_login: dt.datetime | None
    date_joined: dt.datetime | None

    @property
    def label(self) -> str:
        """How reports name the row: `username <email> (id N)`."""
        parts = [self.username or "", f"<{self.email}>" if self.email else "", f"(id {self.id})"]
        return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Account:
    """One global account to create (or reuse) for one or more legacy users with the same email."""

    email: str
    legacy: tuple[LegacyUser, ...]  # the kept row first: its password, name and dates win
    placeholder: bool = False

    @property
    def kept(self) -> LegacyUser:
        return self.legacy[0]

    @property
    def role(self) -> Role:
        """Admin when any merged legacy user was staff or superuser (they ran the legacy app), else member."""
        return Role.ADMIN if any(user.is_staff or user.is_superuser for user in self.legacy) else Role.MEMBER

    @property
    def merged(self) -> bool:
        return len(self.legacy) > 1


@dataclass(frozen=True)
class Skipped:
    """A legacy user left out, and why."""

    user: LegacyUser
    reason: str


@dataclass(frozen=True)
class UserImportPlan:
    """What importing a legacy user table would do: accounts to create, users left out, and warnings."""

    table: str  # schema-qualified, as read
    accounts: tuple[Account, ...]
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def legacy_ids(self) -> dict[int, str]:
        """Legacy user id -> email of the account it becomes (merged ids map to the same email)."""
        return {user.id: account.email for account in self.accounts for user in account.legacy}


def legacy_user_columns(table: str) -> set[str]:
    """Column names of `table` (schema-qualified, e.g. `public.auth_user`); empty when it does not exist."""
    schema, _, name = table.rpartition(".")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            [schema or "public", name],
        )
        return {row[0] for row in cursor.fetchall()}


def legacy_users_read(table: str) -> list[LegacyUser]:
    """Read every row of the legacy user table `table` (schema-qualified), ordered by id.

    Raises InvalidValue naming the table and its missing columns when it lacks `id` or `password`.
    Columns of auth_user it does not have read as empty / false.
    """
    columns = legacy_user_columns(table)
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise InvalidValue(
            f"legacy user table {table!r} has no column {', '.join(missing)}; expected a table shaped like "
            "Django's auth_user (id, password, email, ...)"
        )
    quote = connection.ops.quote_name
    schema, _, name = table.rpartition(".")
    selected = [
        quote(column) if column in columns else f"NULL AS {quote(column)}"
        for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    ]
    sql = f"SELECT {', '.join(selected)} FROM {quote(schema)}.{quote(name)} ORDER BY id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    users = []
    for row in rows:
        values = dict(zip((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS), row, strict=True))
        name_parts = [str(values["first_name"] or "").strip(), str(values["last_name"] or "").strip()]
        users.append(
            LegacyUser(
                id=int(values["id"]),
                password=str(values["password"] or ""),
                email=(str(values["email"]).strip() or None) if values["email"] is not None else None,
                username=str(values["username"] or ""),
                name=" ".join(part for part in name_parts if part)[:NAME_MAX],
                is_active=values["is_active"] is not False,
                is_staff=bool(values["is_staff"]),
                is_superuser=bool(values["is_superuser"]),
                last_login=values["last_login"],
                date_joined=values["date_joined"],
            )
        )
    return users


def placeholder_email(user: LegacyUser, *, slug: str) -> str:
    """`legacy-user-<id>@<slug>.invalid`: an address that can never receive mail (RFC 2606 reserves .invalid)."""
    return f"legacy-user-{user.id}@{slug}.invalid"


def user_import_plan(
    users: Sequence[LegacyUser], *, table: str, slug: str, placeholder_emails: bool = False
) -> UserImportPlan:
    """Group legacy `users` into accounts by case-insensitive email (accounts.domain.normalize_email).

    In each group the kept row is the active one that logged in last (then the lowest id); the account
    takes its password hash, name and dates. Users with no email or an address normalize_email refuses
    are skipped, or with `placeholder_emails` get `placeholder_email()`. Reads nothing; raises nothing.
    """
    groups: dict[str, list[LegacyUser]] = {}
    skipped: list[Skipped] = []
    placeholders: set[str] = set()
    for user in users:
        reason = None
        try:
            email = normalize_email(user.email) if user.email else None
        except DomainError:
            email, reason = None, f"email {user.email!r} is not a valid address"
        if email is None:
            reason = reason or "no email address"
            if not placeholder_emails:
                skipped.append(Skipped(user, reason))
                continue
            email = placeholder_email(user, slug=slug)
            placeholders.add(email)
        groups.setdefault(email, []).append(user)
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    accounts = []
    for email, members in groups.items():
        members.sort(key=lambda user: (not user.is_active, -(user.last_login or epoch).timestamp(), user.id))
        accounts.append(Account(email=email, legacy=tuple(members), placeholder=email in placeholders))
    warnings = []
    for account in accounts:
        if not _usable_hash(account.kept.password):
            warnings.append(
                f"{account.email}: the password of {account.kept.label} uses no hasher in PASSWORD_HASHERS; "
                "this person must reset the password to log in"
            )
    return UserImportPlan(table=table, accounts=tuple(accounts), skipped=tuple(skipped), warnings=tuple(warnings))


def _usable_hash(password: str) -> bool:
    if not password or password.startswith("!"):
        return True  # no usable password: nothing to keep working
    try:
        identify_hasher(password)
    except ValueError:
        return False
    return True


def users_import(plan: UserImportPlan, *, tenant_id: int, owner_email: str | None = None) -> dict[int, int]:
    """Create the accounts of `plan` (existing accounts with the same email are reused, their password
    kept) and one membership each in tenant `tenant_id`: admin or member (Account.role), owner for
    `owner_email`. Returns legacy user id -> account id. Runs in the caller's transaction, public schema.

    Legacy staff and superusers do not become platform staff: they get the tenant's admin role.
    """
    emails = [account.email for account in plan.accounts]
    existing = {user.email.lower(): user for user in User.objects.filter(email__in=emails)}
    new_users = []
    for account in plan.accounts:
        if account.email in existing:
            continue
        kept = account.kept
        new_users.append(
            User(
                email=account.email,
                password=kept.password or "!",
                name=kept.name,
                is_active=kept.is_active,
                last_login=kept.last_login,
                **({"date_joined": kept.date_joined} if kept.date_joined else {}),
            )
        )
    for user in User.objects.bulk_create(new_users):
        existing[user.email] = user
    Membership.objects.bulk_create(
        Membership(
            user=existing[account.email],
            tenant_id=tenant_id,
            role=(Role.OWNER if account.email == owner_email else account.role).value,
        )
        for account in plan.accounts
    )
    return {user.id: existing[account.email].pk for account in plan.accounts for user in account.legacy}


def report_lines(plan: UserImportPlan) -> Iterable[str]:
    """Lines describing `plan` for people: merges, placeholders, skipped users, warnings."""
    for account in plan.accounts:
        if account.merged:
            others = ", ".join(user.label for user in account.legacy[1:])
            yield f"merged into {account.email}: {account.kept.label} (kept: password, name) with {others}"
    for account in plan.accounts:
        if account.placeholder:
            yield f"placeholder address {account.email} for {account.kept.label} (no usable email)"
    for item in plan.skipped:
        yield f"skipped {item.user.label}: {item.reason} (--placeholder-emails imports it)"
    yield from plan.warnings
