"""Global users (public schema) and their memberships in tenants."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .domain import Role, normalize_email


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Emails are compared case-insensitively (login, invitations, imports).
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person, global to the platform; logs in with email. `is_staff` means platform staff."""

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform staff: may use the platform admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email


class Membership(models.Model):
    """A user's role in one tenant. A user may belong to several tenants."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(
        max_length=10, choices=[(r.value, r.value.title()) for r in Role], default=Role.MEMBER.value
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="accounts_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant_id}"


class LoginToken(models.Model):
    """A one-time login token carrying a login from the public host to one tenant's host.

    Session cookies are host-only, so after sign-up the user crosses to `<slug>.<base domain>` with
    a token in the URL (accounts.login_tokens.login_token_issue / login_token_consume). Only the SHA-256
    of the token is stored; a token is valid once, for at most 60 seconds, on its tenant's host only.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_tokens")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="login_tokens")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 (hex) of the token.")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    family = models.CharField(
        max_length=32, blank=True, help_text="Login family of the issuing session: logging out ends all of them."
    )

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"login token of {self.user_id} for tenant {self.tenant_id}"


class Invitation(models.Model):
    """An invitation for `email` to join `tenant` with `role`, sent as a single-use link to the tenant's host.

    Only the SHA-256 of the link's token is stored. Valid until `expires_at`
    (settings.TENANCY_INVITATION_HOURS after it was sent) and accepted once (accounts.invitations).
    At most one pending (not accepted) invitation per tenant and email.
    """

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=[(r.value, r.value.title()) for r in Role])
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 (hex) of the token.")
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "tenant",
                condition=Q(accepted_at__isnull=True),
                name="accounts_invitation_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to tenant {self.tenant_id} as {self.role}"


class BrowserSession(AbstractBaseSession):
    """A session (settings.SESSION_ENGINE = accounts.sessions) with the columns logout needs.

    Session cookies are host-only, so one browser holds a session per host it logged in to: the
    public host and each tenant host it crossed to with a login token. They share a login `family`,
    and logging out on any host deletes the whole family (accounts.login_tokens.login_family_end).
    """

    user_id = models.BigIntegerField(null=True, db_index=True)
    family = models.CharField(max_length=32, blank=True, db_index=True)

    @classmethod
    def get_session_store_class(cls):  # type: ignore[no-untyped-def]
        # app loading: sessions.py imports this models module
        from .sessions import SessionStore

        return SessionStore
{%- if cookiecutter.use_drf == "y" %}


class ApiKey(models.Model):
    """A member's key for scripts calling the tenant's REST API (`Authorization: Bearer <key>`).

    Scoped to one membership: it works on that tenant's hosts only, as that user with the role the
    membership has at each request; removing the membership deletes its keys. The key is shown once
    (accounts.api_keys.api_key_create); only `prefix` (its public id) and the SHA-256 of the whole key are
    stored. `last_used_at` is updated at most once a minute.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public id: the key's first characters.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the key.")
    created = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"API key {self.prefix} ({self.name}) of membership {self.membership_id}"
{%- endif %}
