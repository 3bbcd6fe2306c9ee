"""createsuperuser: platform staff, or with `--tenant S` an owner of tenant S with no platform rights."""

import getpass
import os
from typing import Any

from django.contrib.auth.management.commands.createsuperuser import Command as DjangoCreateSuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandParser
from django_tenants.utils import get_public_schema_name

from ....accounts.domain import Role, normalize_email
from ....accounts.services import membership_grant, user_get_or_create
from ....errors import DomainError
from ....tenancy.management.base import CommandOriginMixin, can_prompt, usage_error
from ....tenancy.models import Tenant


class Command(CommandOriginMixin, DjangoCreateSuperuser):
    help = (
        "Without --tenant: Django's createsuperuser, creating platform staff for the public admin. "
        "With --tenant S: create (or reuse) the user with --email and give it an owner membership in tenant S, "
        "with no platform rights (not staff, not superuser). The password is asked on a terminal, or read from "
        "DJANGO_SUPERUSER_PASSWORD with --noinput (a new user gets no usable password without it). "
        "Exit code 2 for an unknown slug or a malformed email."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", metavar="S", help="Slug of the tenant the user will own.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options.pop("tenant", None)
        if slug is None:
            super().handle(*args, **options)
            return
        tenant = Tenant.objects.filter(slug=slug).exclude(schema_name=get_public_schema_name()).first()
        if tenant is None:
            raise usage_error(f"no tenant with slug {slug!r}; see `manage.py list_tenants`")
        try:
            self._create_owner(tenant, options)
        except DomainError as exc:
            raise usage_error(str(exc)) from exc

    def _create_owner(self, tenant: Tenant, options: dict[str, Any]) -> None:
        email = options.get("email")
        interactive = can_prompt(options)
        if not email:
            if not interactive:
                raise usage_error("--email is required with --noinput or without a terminal")
            email = input("Email: ")
        email = normalize_email(email)
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = user_get_or_create(email=email)
        if not user.has_usable_password():
            if password is None and interactive:
                password = self._ask_password(user)
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
        membership_grant(user=user, tenant=tenant, role=Role.OWNER)
        message = f"{user.email} is an owner of tenant {tenant.slug!r} (no platform rights)"
        self.stdout.write(self.style.SUCCESS(message))

    def _ask_password(self, user: Any) -> str:
        while True:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("Error: your passwords didn't match.")
                continue
            try:
                validate_password(password, user)
            except ValidationError as exc:
                self.stderr.write("\n".join(exc.messages))
                continue
            return password
