"""The audit log's one writer: `audit_record`, called by the services that make the recorded changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..errors import InvalidValue
from .context import origin_current
from .models import AuditEvent

# Action codes, what records them, and who the actor is when there is one.
ACTIONS: dict[str, str] = {
    "tenant.create": "lifecycle.services.tenant_create (platform admin, sign-up too) and tenant_provision_complete",
    "tenant.activate": "lifecycle.services.tenant_status_set to active",
    "tenant.suspend": "lifecycle.services.tenant_status_set to suspended",
    "tenant.archive": "lifecycle.services.tenant_status_set to archived",
    "tenant.drop": "lifecycle.services.tenant_drop (drop_schema, with or without a backup)",
    "tenant.restore": "lifecycle.backup.tenant_restore (restore_tenant)",
    "tenant.adopt": "adoption.steps.tenant_adopt (adopt_single_tenant)",
    "membership.grant": "accounts.services.membership_grant: a role given or changed without the team rules",
    "membership.role_change": "accounts.services.membership_role_change",
    "membership.remove": "accounts.services.membership_remove",
    "invitation.create": "accounts.invitations.invitation_create (actor: the inviter)",
    "invitation.withdraw": "accounts.invitations.invitation_withdraw",
    "invitation.accept": "accounts.invitations.invitation_accept (actor: the new member)",
    "user.delete": "accounts.services.user_delete",
{%- if cookiecutter.use_drf == "y" %}
    "api_key.create": "accounts.api_keys.api_key_create",
    "api_key.revoke": "accounts.api_keys.api_key_revoke",
{%- endif %}
    "billing.plan_change": "billing.services.plan_change (detail: from, to, status, source: admin, cli, stripe)",
    "billing.status_change": "billing.services.subscription_state_set (detail: the changed fields, source)",
    "admin.add": "an object added through the platform admin (audit.admin.AuditedModelAdmin)",
    "admin.change": "an object changed through the platform admin",
    "admin.delete": "an object deleted through the platform admin",
}


class TenantLike(Protocol):
    """What the audit log keeps of a tenant: its id and schema name (tenancy.models.Tenant has both)."""

    pk: Any
    schema_name: str


class UserLike(Protocol):
    pk: Any
    email: str


TARGET_MAX = AuditEvent._meta.get_field("target").max_length or 300


def audit_record(
    action: str,
    *,
    actor: UserLike | None = None,
    tenant: TenantLike | None = None,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Insert an AuditEvent for `action` in the public schema and return it.

    Call it inside the transaction.atomic block of the change it records, after the change: a rollback
    then removes the event too. Action codes (ACTIONS): tenant.create, tenant.activate, tenant.suspend,
    tenant.archive, tenant.drop, tenant.restore, tenant.adopt, membership.grant, membership.role_change,
    membership.remove, invitation.create, invitation.withdraw, invitation.accept, user.delete,
    {% if cookiecutter.use_drf == "y" %}api_key.create, api_key.revoke, {% endif %}billing.plan_change, billing.status_change,
    admin.add, admin.change, admin.delete.

    `actor`: the user who acted (default: the logged-in user of the current web request, if any); their
    email is copied. `tenant`: the tenant concerned (its id and schema name are copied; the row may be
    deleted later). `target`: what was acted on, in words (cut to 300 characters). `detail`: JSON-ready
    facts (before/after values, file paths). Origin, client IP and OS user come from audit.context.

    Raises InvalidValue for an action code not in ACTIONS.
    """
    event = audit_event_build(action, actor=actor, tenant=tenant, target=target, detail=detail)
    # A shared app's table lives in the public schema only, and django-tenants keeps `public` on the search
    # path of every tenant schema: the insert finds it from whichever schema the caller works in.
    event.save()
    return event


def audit_actor_forget(*, user_id: int) -> int:
    """Set `actor` to NULL on every event of the user with id `user_id` (their `actor_email` stays); return how
    many events changed. accounts.services.user_delete calls it: a deleted user's row stays as a tombstone, and
    the log keeps no link to it, as a deleted row's SET_NULL would do."""
    return AuditEvent.objects.filter(actor_id=user_id).update(actor=None)


def audit_event_build(
    action: str,
    *,
    actor: UserLike | None = None,
    tenant: TenantLike | None = None,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """The unsaved AuditEvent `audit_record` would insert (same arguments): for a caller that inserts it in SQL
    of its own, such as warm-pool provisioning (lifecycle.services). Raises InvalidValue for an unknown action.
    """
    if action not in ACTIONS:
        raise InvalidValue(f"audit action {action!r} is not known; accepted: {', '.join(sorted(ACTIONS))}")
    origin = origin_current()
    if actor is None:
        actor = origin.user()
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "pk", None),
        actor_email=getattr(actor, "email", "") or "",
        origin=origin.label,
        ip_address=origin.ip_address(),
        os_user=origin.os_user,
        tenant_id=tenant.pk if tenant is not None else None,
        schema_name=tenant.schema_name if tenant is not None else "",
        target=target[:TARGET_MAX],
        detail=dict(detail or {}),
    )
    return event
