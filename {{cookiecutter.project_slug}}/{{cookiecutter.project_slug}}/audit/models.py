"""AuditEvent: one destructive or privileged operation, written in the transaction of the change it records."""

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """Who (`actor`, `actor_email`), when (`created`), from where (`origin`, `ip_address`, `os_user`) and what
    (`action`, `schema_name` / `tenant_id`, `target`, `detail`). Rows are only ever inserted.

    `actor_email` and `schema_name` are copies, not lookups: they stay when the user or the tenant is deleted
    (`actor` then becomes NULL; `tenant_id` is a plain number with no foreign key).
    """

    created = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    action = models.CharField(max_length=64, db_index=True, help_text="An action code, e.g. tenant.drop.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The logged-in user who acted; empty for commands, tasks and deleted users.",
    )  # fmt: skip
    actor_email = models.CharField(max_length=254, blank=True, db_index=True)
    origin = models.CharField(
        max_length=200, blank=True, help_text="web, cli:<command>, task:<name>; empty when unknown."
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True, help_text="Client IP of a web request.")
    os_user = models.CharField(max_length=150, blank=True, help_text="Operating-system user of a command.")
    tenant_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    schema_name = models.CharField(max_length=63, blank=True, db_index=True)
    target = models.CharField(max_length=300, blank=True, help_text="What was acted on, in words.")
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = "audit event"
        verbose_name_plural = "audit events"

    def __str__(self) -> str:
        who = self.actor_email or self.origin or "unknown"
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.action} {self.schema_name or self.target} by {who}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Append-only: an event, once written, is evidence; nothing may rewrite it.
        if self.pk is not None:
            raise ValueError(f"audit event {self.pk} is append-only and cannot be changed")
        super().save(*args, **kwargs)
