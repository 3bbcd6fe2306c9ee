"""Sign-up on the public site: a new account and its first tenant, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from ..accounts.domain import normalize_email
from ..accounts.login_tokens import login_token_issue
from ..accounts.models import User
from ..accounts.services import EmailRegistered, password_validate
from ..lifecycle.services import tenant_create
from ..tenancy.models import Tenant


@dataclass(frozen=True)
class Signup:
    """What `user_signup` created: the user, their tenant (active, they own it) and a login token for it."""

    user: User
    tenant: Tenant
    token: str


def user_signup(*, company_name: str, slug: str, email: str, password: str, plan: str | None = None) -> Signup:
    """Create a user with `email` and `password`, provision the tenant `slug` named `company_name` with that
    user as owner (lifecycle.services.tenant_create, domain `<slug>.<TENANCY_BASE_DOMAIN>`) on `plan` (a plan
    code; None: the default plan; a plan with trial days starts trialing), and issue a login token for it.
    All or nothing: one transaction, so a failure in provisioning leaves no user behind.

    Raises InvalidEmail for a malformed email, EmailRegistered when it has an account, WeakPassword,
    and what tenant_create raises (InvalidValue for the name, InvalidSlug, TenantExists, DomainTaken,
    UnknownPlan).
    """
    email = normalize_email(email)
    password_validate(password=password, email=email)
    if User.objects.filter(email__iexact=email).exists():
        raise EmailRegistered(f"{email} already has an account; log in instead")
    user = User(email=email)
    user.set_password(password)  # hashing is slow on purpose: done before the transaction starts
    with transaction.atomic():
        try:
            # A savepoint: a concurrent sign-up with the same email fails the unique index here.
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise EmailRegistered(f"{email} already has an account; log in instead") from None
        tenant = tenant_create(name=company_name, slug=slug, owner_email=user.email, plan=plan)
        token = login_token_issue(user=user, tenant=tenant)
    return Signup(user=user, tenant=tenant, token=token)
