"""Global users (public schema) and their memberships in tenants."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
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
    a token in the URL (accounts.services.login_token_issue / login_token_consume). Only the SHA-256
    of the token is stored; a token is valid once, for at most 60 seconds, on its tenant's host only.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_tokens")
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="login_tokens")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 (hex) of the token.")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"login token of {self.user_id} for tenant {self.tenant_id}"
