from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django_tenants.utils import get_public_schema_name

from .services import membership_role


class TenantAuthenticationForm(AuthenticationForm):
    """Email and password; on a tenant host only that tenant's members may log in."""

    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))

    def confirm_login_allowed(self, user):  # type: ignore[no-untyped-def]
        super().confirm_login_allowed(user)
        tenant = getattr(self.request, "tenant", None)
        if (
            tenant is not None
            and tenant.schema_name != get_public_schema_name()
            and membership_role(user_id=user.pk, tenant_id=tenant.pk) is None
        ):
            raise forms.ValidationError(f"{user.email} is not a member of {tenant.name}.", code="not_a_member")
