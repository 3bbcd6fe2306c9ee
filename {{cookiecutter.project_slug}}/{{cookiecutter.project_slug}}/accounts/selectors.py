"""Reads of accounts (public schema): roles, a tenant's team, a user's tenants, pending invitations."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models.functions import Lower
from django.utils import timezone

from ..tenancy.addressing import routing_mode, tenant_base_path
from ..tenancy.models import Domain, Tenant
from .domain import Role
from .models import Invitation, Membership, User


def membership_role(*, user_id: int, tenant_id: int) -> Role | None:
    """Return the role of user `user_id` in tenant `tenant_id`, or None when not a member."""
    role = Membership.objects.filter(user_id=user_id, tenant_id=tenant_id).values_list("role", flat=True).first()
    return Role(role) if role else None


@dataclass(frozen=True)
class TenantChoice:
    """One of a user's tenants, as the tenant picker and switcher list them: `domain` its primary domain ("" in
    path mode when it has none), `path` its home on the public host in path mode (`/<prefix>/<slug>/`; "" in
    domain mode, where it is reached by crossing with a login token)."""

    tenant: Tenant
    role: Role
    domain: str
    path: str = ""


def user_tenants(*, user: User) -> list[TenantChoice]:
    """The active tenants `user` is a member of, by name, with the role, primary domain and (path mode) home path
    of each. Two queries.

    Tenants still provisioning, suspended or archived are left out: their hosts serve no pages; so are, in
    domain mode, tenants without a domain (nothing routes to them).
    """
    by_path = routing_mode() == "path"
    memberships = list(
        Membership.objects.filter(user=user, tenant__status=Tenant.Status.ACTIVE)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    domains: dict[int, str] = {}
    for domain in Domain.objects.filter(tenant_id__in=[m.tenant_id for m in memberships]).order_by("-is_primary", "pk"):
        domains.setdefault(domain.tenant_id, domain.domain)
    return [
        TenantChoice(
            tenant=m.tenant,
            role=Role(m.role),
            domain=domains.get(m.tenant_id, ""),
            path=tenant_base_path(m.tenant) + "/" if by_path else "",
        )
        for m in memberships
        if by_path or m.tenant_id in domains
    ]


def members_list(*, tenant: Tenant) -> list[Membership]:
    """The tenant's memberships with their users, owners first, then admins, then members, by email."""
    order = {Role.OWNER.value: 0, Role.ADMIN.value: 1, Role.MEMBER.value: 2}
    memberships = Membership.objects.filter(tenant=tenant).select_related("user")
    return sorted(memberships, key=lambda m: (order.get(m.role, 3), m.user.email))


def invitations_pending(*, tenant: Tenant) -> list[Invitation]:
    """The tenant's invitations not yet accepted, newest first, expired ones included (they show as expired)."""
    return list(Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True).select_related("invited_by"))


def member_seats(*, tenant: Tenant, except_email: str | None = None) -> int:
    """Seats `tenant` uses against its plan's member limit (billing.domain.Limit.MEMBERS): its members plus its
    pending, unexpired invitations (an invitation reserves the seat its acceptance takes). An invitation for
    an address that is already a member, or for `except_email` (the address being added now), is not counted
    again. Expired invitations hold no seat."""
    members = Membership.objects.filter(tenant=tenant)
    pending = Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, expires_at__gt=timezone.now())
    if except_email is not None:
        pending = pending.exclude(email__iexact=except_email)
    pending = pending.annotate(address=Lower("email")).exclude(
        address__in=members.annotate(address=Lower("user__email")).values("address")
    )
    return members.count() + pending.count()
