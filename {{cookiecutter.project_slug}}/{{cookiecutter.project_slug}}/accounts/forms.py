"""Forms of the account pages: login (django-allauth's, members only on a tenant host), invitations and
the members page."""

from typing import Any

from allauth.account.forms import AddEmailForm, LoginForm
from allauth.account.models import EmailAddress
from django import forms

from .adapter import on_public_host
from .domain import EMAIL_MAX, Role
from .models import User
from .selectors import membership_role

ROLE_CHOICES = [(role.value, role.value.title()) for role in Role]


class TenantLoginForm(LoginForm):
    """allauth's email and password login; on a tenant host only that tenant's members may log in."""

    user: Any

    def clean(self):  # type: ignore[no-untyped-def]
        cleaned = super().clean()
        request = self.request
        if self.user is not None and request is not None and not on_public_host(request):
            tenant = request.tenant
            if membership_role(user_id=self.user.pk, tenant_id=tenant.pk) is None:
                self.user = None
                raise forms.ValidationError(
                    f"{cleaned.get('login')} is not a member of {tenant.name}.", code="not_a_member"
                )
        return cleaned


class InvitationForm(forms.Form):
    """Members page: invite an email with a role. The service checks the address, the role and the rights."""

    # Length checked by accounts.domain.normalize_email, whose error names the value.
    email = forms.CharField(label="Email", strip=True, widget=forms.TextInput(attrs={"maxlength": EMAIL_MAX}))
    role = forms.CharField(label="Role", widget=forms.Select(choices=ROLE_CHOICES), initial=Role.MEMBER.value)


class InvitationAcceptForm(forms.Form):
    """Accept an invitation: a new account's name and password, or an existing account's password."""

    # Checked by accounts.invitations.invitation_accept (at most 150 characters, visible text), naming the value.
    name = forms.CharField(
        label="Your name", required=False, strip=False, widget=forms.TextInput(attrs={"maxlength": 150})
    )
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(render_value=False))


class UniqueAddEmailForm(AddEmailForm):
    """allauth's "add an email address" form (/accounts/email/ on the public host), refusing an address that
    belongs to another account, whatever its case or surrounding spaces: as another account's login (User.email)
    or as one of its addresses (allauth's EmailAddress, verified or not).

    allauth itself accepts such an address while ACCOUNT_PREVENT_ENUMERATION is on (its default), adds it
    unverified and mails its owner a confirmation link: one click and the address would be on both accounts.
    Saying "taken" here tells a logged-in user that the address has an account (allauth's manage_email rate
    limit bounds how often they can ask); password reset and login keep allauth's enumeration prevention.
    """

    def clean_email(self) -> str:
        address = str(self.cleaned_data.get("email", "")).strip().lower()
        assert self.user is not None  # allauth's email page binds the form to the logged-in user
        owner = self.user.pk
        taken = (
            User.objects.filter(email__iexact=address).exclude(pk=owner).exists()
            or EmailAddress.objects.filter(email__iexact=address).exclude(user_id=owner).exists()
        )
        if taken:
            raise forms.ValidationError(
                f"{address} belongs to another account; an email address can belong to one account only.",
                code="email_taken",
            )
        return str(super().clean_email())
