"""The public sign-up form: company name, subdomain, email, password and plan, each checked on its own field."""

from __future__ import annotations

from django import forms
from django.conf import settings

from ..accounts.domain import EMAIL_MAX, InvalidEmail, normalize_email
from ..accounts.models import User
from ..accounts.services import WeakPassword, password_validate
from ..billing.models import Plan
from ..billing.services import default_plan, plan_offered_get, plans_offered
from ..errors import InvalidValue
from ..lifecycle.services import (
    NAME_MAX,
    default_domain_for,
    tenant_request_validate,
    tenant_slug_validate,
    validate_tenant_name,
)
from ..tenancy.addressing import path_prefix, routing_mode
from ..tenancy.domain import SLUG_MAX, SLUG_RULE, DomainTaken, InvalidDomain, TenantExists, schema_name_for
from ..tenancy.selectors import tenant_get_by_slug


class SignupForm(forms.Form):
    """Validates a sign-up without writing anything; platform.services.user_signup does the work.

    Errors are attached to the field they concern, with the messages of the domain rules
    (tenancy.domain.validate_slug, accounts.domain.normalize_email, AUTH_PASSWORD_VALIDATORS).
    """

    # Lengths are limited in the browser (maxlength) and checked by the domain rules in clean_<field>, whose
    # errors name the value (Django's max_length message would not).
    company_name = forms.CharField(
        label="Company name", strip=False, widget=forms.TextInput(attrs={"maxlength": NAME_MAX})
    )
    slug = forms.CharField(
        label="Subdomain",
        strip=False,
        widget=forms.TextInput(
            attrs={"maxlength": SLUG_MAX, "autocapitalize": "none", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    email = forms.CharField(
        label="Email", widget=forms.EmailInput(attrs={"maxlength": EMAIL_MAX, "autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    # The offered plans (billing.services.plans_offered), checked by clean_plan so that a bad value is named.
    plan = forms.CharField(label="Plan", required=False, widget=forms.RadioSelect)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.email_registered = False  # set by clean_email: the page then links to the login page
        address = (
            f"{settings.TENANCY_BASE_DOMAIN}/{path_prefix()}/<subdomain>"
            if routing_mode() == "path"
            else f"<subdomain>.{settings.TENANCY_BASE_DOMAIN}"
        )
        self.fields["slug"].help_text = f"Your workspace address: {address}; {SLUG_RULE}."
        plans = plans_offered()
        self.fields["plan"].widget.choices = [(plan.code, plan_choice_label(plan)) for plan in plans]  # type: ignore[attr-defined]
        default = next((plan for plan in plans if plan.is_default), plans[0] if plans else None)
        self.fields["plan"].initial = default.code if default else None
        self.fields["plan"].help_text = "A plan with a free trial starts with the trial; change the plan any time."

    def clean_company_name(self) -> str:
        try:
            return validate_tenant_name(self.cleaned_data["company_name"])
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def clean_slug(self) -> str:
        try:
            return tenant_slug_validate(self.cleaned_data["slug"])
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def clean_email(self) -> str:
        try:
            email = normalize_email(self.cleaned_data["email"])
        except InvalidEmail as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None
        if User.objects.filter(email__iexact=email).exists():
            self.email_registered = True
            raise forms.ValidationError(f"{email} already has an account; log in instead.", code="registered")
        return email

    def clean_password(self) -> str:
        # Runs after clean_email (field order), so the similarity check sees the email when it is valid.
        try:
            return password_validate(password=self.cleaned_data["password"], email=self.cleaned_data.get("email", ""))
        except WeakPassword as exc:
            raise forms.ValidationError(exc.messages, code="weak") from None

    def clean_plan(self) -> str:
        """An offered plan's code; empty: the default plan (billing.services.default_plan)."""
        code = self.cleaned_data.get("plan") or ""
        try:
            return plan_offered_get(code).code if code else default_plan().code
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        name, slug = cleaned.get("company_name"), cleaned.get("slug")
        if name and slug:
            try:
                tenant_request_validate(name=name, slug=slug)
            except TenantExists:
                # Company names may repeat or look alike ("Acme Inc", "ACME Inc."); subdomains may not. The error
                # names the subdomain that is taken and, where only its schema is left, that schema.
                schema = schema_name_for(str(slug))
                reason = "by another workspace" if tenant_get_by_slug(slug=str(slug)) else f"(schema {schema!r} exists)"
                taken = forms.ValidationError(
                    f"subdomain {slug!r} is taken {reason}; choose another subdomain.", code="taken"
                )
                self.add_error("slug", taken)
            except (DomainTaken, InvalidDomain):
                domain = default_domain_for(str(slug))
                self.add_error(
                    "slug", forms.ValidationError(f"{domain} is not available; choose another subdomain.", code="taken")
                )
        return cleaned


def plan_choice_label(plan: Plan) -> str:
    """How sign-up shows a plan: `Starter: 19.00 USD a month (190.00 a year), 14 days free`, `Free: no charge`."""
    price = f"{plan.price_monthly} {plan.currency} a month ({plan.price_yearly} a year)"
    if not plan.price_monthly and not plan.price_yearly:
        price = "no charge"
    trial = f", {plan.trial_days} days free" if plan.trial_days else ""
    return f"{plan.name}: {price}{trial}"
