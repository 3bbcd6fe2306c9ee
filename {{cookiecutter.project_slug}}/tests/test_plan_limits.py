"""Plan limits, enforced by the services that create things (billing.services.plan_limit_check, inside the creating
transaction): products, media storage, customers, bookings per month and members (pending invitations hold a seat),
through the services, the HTML forms{% if cookiecutter.use_drf == "y" %} and the API{% endif %}; a downgrade below
the usage; read-only tenants; the commands' --plan; and the lock that keeps concurrent creators at the limit.

Most tests move acme to a small Plan made in the test transaction (rolled back): `limited(products=N, ...)`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import itertools
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image

from {{ cookiecutter.project_slug }}.accounts.invitations import invitation_accept, invitation_create
from {{ cookiecutter.project_slug }}.accounts.models import Invitation, Membership
from {{ cookiecutter.project_slug }}.accounts.selectors import member_seats
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create
from {{ cookiecutter.project_slug }}.billing import services as billing_services
from {{ cookiecutter.project_slug }}.billing.domain import Limit, PlanLimitReached
from {{ cookiecutter.project_slug }}.billing.models import Plan
from {{ cookiecutter.project_slug }}.billing.services import plan_change, subscription_of, subscription_state_set
from {{ cookiecutter.project_slug }}.bookings.domain import Slot, month_window
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.bookings.repositories import DjangoBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_cancel, booking_create
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create, product_update
from {{ cookiecutter.project_slug }}.tenancy.domain import TenantReadOnly
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant, billing_grace

from conftest import committed_tenants

PASSWORD = "plan-limits-Passw0rd-long"
_slots = itertools.count()


def tag() -> str:
    return uuid.uuid4().hex[:8]


def next_slot() -> Slot:
    """A future hour no other booking of this module uses."""
    start = dt.datetime(2036, 1, 5, 8, tzinfo=dt.UTC) + dt.timedelta(hours=2 * next(_slots))
    return Slot(start=start, end=start + dt.timedelta(hours=1))


@pytest.fixture
def limited(tenant: Tenant) -> Callable[..., Plan]:
    """`limited(products=3, ...)`: a plan named Tiny with those limits (others unlimited), acme moved onto it."""

    def make(**limits: int) -> Plan:
        plan = Plan.objects.create(
            code=f"tiny-{tag()}", name="Tiny", offered=False, position=99,
            **{f"max_{Limit(name).value}": allowed for name, allowed in limits.items()},
        )  # fmt: skip
        plan_change(tenant=tenant, plan_code=plan.code)
        return plan

    return make


@dataclass
class Things:
    """Creates one more of each limited thing in acme through its service, and counts them as the limit does."""

    tenant: Tenant
    product_id: int
    customer_id: int

    def count(self, limit: Limit) -> int:
        if limit is Limit.PRODUCTS:
            return Product.objects.count()
        if limit is Limit.CUSTOMERS:
            return Customer.objects.count()
        if limit is Limit.BOOKINGS_PER_MONTH:
            since, before = month_window(dt.datetime.now(ZoneInfo(settings.TIME_ZONE)))
            return DjangoBookingRepository().created_count(since=since, before=before)
        return member_seats(tenant=self.tenant)

    def create(self, limit: Limit) -> None:
        if limit is Limit.PRODUCTS:
            product_create(name="Limited", sku=f"LIM-{tag().upper()}", price="1.00")
        elif limit is Limit.CUSTOMERS:
            customer_create(name="Limited", email=f"limited-{tag()}@example.com")
        elif limit is Limit.BOOKINGS_PER_MONTH:
            booking_create(
                bookings=DjangoBookingRepository(),
                product_id=self.product_id,
                customer_id=self.customer_id,
                slot=next_slot(),
            )
        else:
            membership_grant(
                user=user_get_or_create(email=f"seat-{tag()}@example.com"), tenant=self.tenant, role="member"
            )


@pytest.fixture
def things(tenant: Tenant) -> Things:
    product = product_create(name="Bookable", sku=f"BOOK-{tag().upper()}", price="10.00")
    customer = customer_create(name="Booker", email=f"booker-{tag()}@example.com")
    return Things(tenant, product.pk, customer.pk)


COUNTED = [Limit.PRODUCTS, Limit.CUSTOMERS, Limit.BOOKINGS_PER_MONTH, Limit.MEMBERS]


def refusal(plan: Plan, limit: Limit, allowed: int) -> str:
    """The start of PlanLimitReached's message at the limit."""
    label = {Limit.BOOKINGS_PER_MONTH: "bookings this month"}.get(limit, limit.value)
    return f"The {plan.name} plan allows {allowed} {label}; this workspace has {allowed}."


# --- the services ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", COUNTED, ids=[limit.value for limit in COUNTED])
def test_a_service_creates_up_to_the_limit_and_refuses_the_next_one(
    limit: Limit, things: Things, limited: Callable[..., Plan]
) -> None:
    used = things.count(limit)
    plan = limited(**{limit.value: used + 1})  # usage at N-1

    things.create(limit)  # N-1 -> N: allowed
    assert things.count(limit) == used + 1

    with pytest.raises(PlanLimitReached) as refused:  # N -> N+1: refused
        things.create(limit)

    assert things.count(limit) == used + 1
    error = refused.value
    assert (error.limit, error.plan, error.allowed, error.usage) == (limit, plan.code, used + 1, used + 1)
    assert str(error).startswith(refusal(plan, limit, used + 1))
    assert error.code == "plan_limit_reached"


def test_unlimited_plans_refuse_nothing(things: Things, limited: Callable[..., Plan]) -> None:
    limited()  # every limit empty: unlimited
    before = {limit: things.count(limit) for limit in COUNTED}

    for limit in COUNTED:
        things.create(limit)
        things.create(limit)

    assert {limit: things.count(limit) for limit in COUNTED} == {limit: n + 2 for limit, n in before.items()}


def test_bookings_of_earlier_months_and_cancelled_ones_count_as_the_month_they_were_made_in(
    things: Things, limited: Callable[..., Plan]
) -> None:
    used = things.count(Limit.BOOKINGS_PER_MONTH)
    limited(bookings_per_month=used + 1)
    things.create(Limit.BOOKINGS_PER_MONTH)
    newest = Booking.objects.latest("pk")
    booking_cancel(bookings=DjangoBookingRepository(), booking_id=newest.pk)  # cancelled: still made this month

    with pytest.raises(PlanLimitReached):
        things.create(Limit.BOOKINGS_PER_MONTH)

    since, _ = month_window(dt.datetime.now(ZoneInfo(settings.TIME_ZONE)))
    Booking.objects.filter(pk=newest.pk).update(created=since - dt.timedelta(seconds=1))  # made last month
    things.create(Limit.BOOKINGS_PER_MONTH)
    assert things.count(Limit.BOOKINGS_PER_MONTH) == used + 1


def test_changing_a_members_role_takes_no_seat(tenant: Tenant, limited: Callable[..., Plan], member_user: Any) -> None:
    limited(members=member_seats(tenant=tenant))  # full

    membership_grant(user=member_user, tenant=tenant, role="admin")

    assert Membership.objects.get(user=member_user, tenant=tenant).role == "admin"


# --- members and invitations -------------------------------------------------------------------------------------


def test_a_pending_invitation_holds_a_seat_so_inviting_beyond_the_limit_is_refused_like_adding(
    tenant: Tenant, owner_user: Any, limited: Callable[..., Plan]
) -> None:
    seats = member_seats(tenant=tenant)
    plan = limited(members=seats + 1)
    _, token = invitation_create(tenant=tenant, email="first@example.com", role="member", invited_by=owner_user)
    assert member_seats(tenant=tenant) == seats + 1

    with pytest.raises(PlanLimitReached, match=refusal(plan, Limit.MEMBERS, seats + 1)):
        invitation_create(tenant=tenant, email="second@example.com", role="member", invited_by=owner_user)
    with pytest.raises(PlanLimitReached, match=refusal(plan, Limit.MEMBERS, seats + 1)):
        membership_grant(user=user_get_or_create(email="third@example.com"), tenant=tenant, role="member")

    # Accepting takes the seat the invitation held.
    user = invitation_accept(token=token, tenant=tenant, password=PASSWORD)
    assert Membership.objects.filter(user=user, tenant=tenant).exists()
    assert member_seats(tenant=tenant) == seats + 1
    assert not Invitation.objects.filter(tenant=tenant, email__in=["second@example.com"]).exists()
    assert not Membership.objects.filter(tenant=tenant, user__email="third@example.com").exists()


def test_expired_invitations_hold_no_seat(tenant: Tenant, owner_user: Any, limited: Callable[..., Plan]) -> None:
    seats = member_seats(tenant=tenant)
    limited(members=seats + 1)
    invitation, _ = invitation_create(tenant=tenant, email="late@example.com", role="member", invited_by=owner_user)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))

    invitation_create(tenant=tenant, email="next@example.com", role="member", invited_by=owner_user)

    assert member_seats(tenant=tenant) == seats + 1


def test_accepting_an_invitation_after_a_downgrade_below_the_members_is_refused_and_changes_nothing(
    tenant: Tenant, owner_user: Any, limited: Callable[..., Plan]
) -> None:
    members = Membership.objects.filter(tenant=tenant).count()
    limited(members=members + 1)
    _, token = invitation_create(tenant=tenant, email="joiner@example.com", role="member", invited_by=owner_user)
    limited(members=members)  # a downgrade: the members fill the plan, the invitation no longer fits

    with pytest.raises(PlanLimitReached):
        invitation_accept(token=token, tenant=tenant, password=PASSWORD)

    assert Membership.objects.filter(tenant=tenant).count() == members
    assert Invitation.objects.get(email="joiner@example.com", tenant=tenant).accepted_at is None


# --- media storage -----------------------------------------------------------------------------------------------


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def noise(name: str = "noise.png", side: int = 370) -> SimpleUploadedFile:
    """A PNG of random pixels (incompressible): about side * side * 3 bytes, 410 kB at 370."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def nbytes(upload: SimpleUploadedFile) -> int:
    assert upload.size is not None
    return upload.size


def stored(media_root: Path) -> list[Path]:
    folder = media_root / "tenant_acme"
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def test_images_are_stored_up_to_the_plans_megabytes_and_a_refused_one_leaves_no_file(
    tenant: Tenant, media_root: Path, limited: Callable[..., Plan]
) -> None:
    plan = limited(storage_mb=1)  # 1,000,000 bytes
    first, second, third = noise(), noise(), noise()
    assert nbytes(first) + nbytes(second) <= 1_000_000 < nbytes(first) + nbytes(second) + nbytes(third)

    product_create(name="One", sku=f"IMG-{tag().upper()}", price="1.00", image=first)
    product_create(name="Two", sku=f"IMG-{tag().upper()}", price="1.00", image=second)
    products = Product.objects.count()
    with pytest.raises(PlanLimitReached) as refused:
        product_create(name="Three", sku=f"IMG-{tag().upper()}", price="1.00", image=third)

    assert (refused.value.limit, refused.value.plan, refused.value.allowed) == (Limit.STORAGE_MB, plan.code, 1)
    assert "allows 1 MB of media storage" in str(refused.value)
    assert Product.objects.count() == products
    assert len(stored(media_root)) == 2
    assert sum(path.stat().st_size for path in stored(media_root)) == nbytes(first) + nbytes(second)


def test_an_image_added_by_an_update_counts_and_a_replaced_image_is_deducted(
    tenant: Tenant, media_root: Path, limited: Callable[..., Plan]
) -> None:
    limited(storage_mb=1)
    kept = product_create(name="Kept", sku=f"IMG-{tag().upper()}", price="1.00", image=noise())
    replaced = product_create(name="Replaced", sku=f"IMG-{tag().upper()}", price="1.00", image=noise())
    bare = product_create(name="Bare", sku=f"IMG-{tag().upper()}", price="1.00")

    with pytest.raises(PlanLimitReached):
        product_update(product_id=bare.pk, image=noise())
    bare.refresh_from_db()
    assert not bare.image
    assert len(stored(media_root)) == 2

    # Replacing an image frees its bytes: the new one fits (the old file goes once the change commits).
    old_name = str(replaced.image.name)
    updated = product_update(product_id=replaced.pk, image=noise("new.png"))
    assert str(updated.image.name) not in (old_name, str(kept.image.name))
    assert (media_root / "tenant_acme" / str(updated.image.name)).is_file()


def test_the_product_form_shows_the_storage_refusal_and_stores_no_file(
    tenant: Tenant, tenant_client: Client, media_root: Path, limited: Callable[..., Plan]
) -> None:
    limited(storage_mb=1)
    product_create(name="One", sku=f"IMG-{tag().upper()}", price="1.00", image=noise())
    product_create(name="Two", sku=f"IMG-{tag().upper()}", price="1.00", image=noise())
    code = f"IMG-{tag().upper()}"

    response = tenant_client.post(
        "/products/new/", {"name": "Three", "sku": code, "price": "1.00", "stock": "0", "image": noise()}
    )

    assert response.status_code == 200
    assert "The Tiny plan allows 1 MB of media storage; this workspace has 1." in response.content.decode()
    with tenant_context(tenant):
        assert not Product.objects.filter(sku=code).exists()
    assert len(stored(media_root)) == 2


# --- the HTML forms ----------------------------------------------------------------------------------------------


def form_data(limit: Limit, things: Things) -> tuple[str, dict[str, str]]:
    if limit is Limit.PRODUCTS:
        return "/products/new/", {"name": "Form", "sku": f"FORM-{tag().upper()}", "price": "2.00", "stock": "0"}
    if limit is Limit.CUSTOMERS:
        return "/customers/new/", {"name": "Form", "email": f"form-{tag()}@example.com"}
    slot = next_slot()
    local = ZoneInfo(settings.TIME_ZONE)
    return "/bookings/new/", {
        "product": str(things.product_id),
        "customer": str(things.customer_id),
        "start": f"{slot.start.astimezone(local):%Y-%m-%dT%H:%M}",
        "end": f"{slot.end.astimezone(local):%Y-%m-%dT%H:%M}",
    }


FORMS = [Limit.PRODUCTS, Limit.CUSTOMERS, Limit.BOOKINGS_PER_MONTH]


@pytest.mark.parametrize("limit", FORMS, ids=[limit.value for limit in FORMS])
def test_a_form_creates_up_to_the_limit_then_shows_the_refusal_and_creates_nothing(
    limit: Limit, tenant: Tenant, things: Things, tenant_client: Client, limited: Callable[..., Plan]
) -> None:
    used = things.count(limit)
    plan = limited(**{limit.value: used + 1})

    created = tenant_client.post(*form_data(limit, things))
    refused = tenant_client.post(*form_data(limit, things))

    assert created.status_code == 302
    assert refused.status_code == 200
    assert refusal(plan, limit, used + 1) in refused.content.decode()
    assert "an owner can change the plan on the Billing page" in refused.content.decode()
    with tenant_context(tenant):
        assert things.count(limit) == used + 1


def test_the_members_page_invites_up_to_the_limit_then_shows_the_refusal(
    tenant: Tenant, manager_client: Client, limited: Callable[..., Plan]
) -> None:
    seats = member_seats(tenant=tenant)
    plan = limited(members=seats + 1)

    invited = manager_client.post("/members/", {"email": "fits@example.com", "role": "member"})
    refused = manager_client.post("/members/", {"email": "over@example.com", "role": "member"})

    assert invited.status_code == 302
    assert refused.status_code == 400
    assert refusal(plan, Limit.MEMBERS, seats + 1) in refused.content.decode()
    assert list(Invitation.objects.filter(tenant=tenant).values_list("email", flat=True)) == ["fits@example.com"]


def test_the_invitation_page_shows_a_refusal_by_the_plan_and_adds_nobody(
    tenant: Tenant, owner_user: Any, client_for: Callable[..., Client], limited: Callable[..., Plan]
) -> None:
    members = Membership.objects.filter(tenant=tenant).count()
    limited(members=members + 1)
    _, token = invitation_create(tenant=tenant, email="joiner@example.com", role="member", invited_by=owner_user)
    limited(members=members)

    response = client_for(tenant).post(f"/invitations/{token}/", {"password": PASSWORD, "name": "Joiner"})

    assert response.status_code == 400
    assert f"allows {members} members; this workspace has {members}." in response.content.decode()
    assert not Membership.objects.filter(tenant=tenant, user__email="joiner@example.com").exists()
{%- if cookiecutter.use_drf == "y" %}


# --- the API -----------------------------------------------------------------------------------------------------


def api_body(limit: Limit, things: Things) -> tuple[str, dict[str, object]]:
    if limit is Limit.PRODUCTS:
        return "/api/products/", {"name": "Api", "sku": f"API-{tag().upper()}", "price": "3.00"}
    if limit is Limit.CUSTOMERS:
        return "/api/customers/", {"name": "Api", "email": f"api-{tag()}@example.com"}
    slot = next_slot()
    return "/api/bookings/", {
        "product_id": things.product_id,
        "customer_id": things.customer_id,
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
    }


@pytest.mark.parametrize("limit", FORMS, ids=[limit.value for limit in FORMS])
def test_the_api_creates_up_to_the_limit_then_answers_403_naming_limit_and_plan(
    limit: Limit, tenant: Tenant, things: Things, tenant_client: Client, limited: Callable[..., Plan]
) -> None:
    used = things.count(limit)
    plan = limited(**{limit.value: used + 1})

    path, body = api_body(limit, things)
    created = tenant_client.post(path, body, content_type="application/json")
    refused = tenant_client.post(*api_body(limit, things), content_type="application/json")

    assert created.status_code == 201, created.content
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": refused.json()["detail"],
        "code": "plan_limit_reached",
        "limit": limit.value,
        "plan": plan.code,
        "allowed": used + 1,
        "usage": used + 1,
    }
    assert refused.json()["detail"].startswith(refusal(plan, limit, used + 1))
    with tenant_context(tenant):
        assert things.count(limit) == used + 1
{%- endif %}


# --- a downgrade -------------------------------------------------------------------------------------------------


def test_a_downgrade_below_the_usage_deletes_nothing_and_blocks_creation_until_usage_fits(
    tenant: Tenant, things: Things, limited: Callable[..., Plan]
) -> None:
    for _ in range(3):
        things.create(Limit.PRODUCTS)
    used = Product.objects.count()
    plan = limited(products=used - 2)  # two over

    assert Product.objects.count() == used  # nothing deleted
    with pytest.raises(PlanLimitReached) as refused:
        things.create(Limit.PRODUCTS)
    assert (refused.value.allowed, refused.value.usage) == (used - 2, used)
    assert f"The {plan.name} plan allows {used - 2} products; this workspace has {used}." in str(refused.value)

    deletable = Product.objects.exclude(pk=things.product_id).order_by("-pk")
    Product.objects.filter(pk__in=list(deletable.values_list("pk", flat=True)[:2])).delete()  # down to the limit
    with pytest.raises(PlanLimitReached):
        things.create(Limit.PRODUCTS)  # at the limit: still no room for one more

    deletable[0].delete()  # one below
    things.create(Limit.PRODUCTS)
    assert Product.objects.count() == used - 2


# --- read-only tenants -------------------------------------------------------------------------------------------


@pytest.fixture
def read_only(tenant: Tenant) -> Tenant:
    """acme's subscription overdue past the grace period: read-only."""
    overdue = timezone.now() - billing_grace() - dt.timedelta(hours=1)
    subscription_state_set(tenant=tenant, status="past_due", past_due_since=overdue)
    return tenant


@pytest.mark.parametrize("limit", COUNTED, ids=[limit.value for limit in COUNTED])
def test_read_only_tenants_create_nothing_through_the_services(limit: Limit, things: Things, read_only: Tenant) -> None:
    before = things.count(limit)

    with pytest.raises(TenantReadOnly, match="'acme' is read-only: its payment is overdue; nothing was changed"):
        things.create(limit)

    assert things.count(limit) == before


@pytest.mark.parametrize("limit", [*FORMS, Limit.MEMBERS], ids=[limit.value for limit in [*FORMS, Limit.MEMBERS]])
def test_forms_show_a_read_only_refusal_by_the_services_as_a_message(
    limit: Limit, tenant: Tenant, things: Things, manager_client: Client, read_only: Tenant
) -> None:
    # The routing still sees the tenant as paid (a request that began before the subscription changed): the
    # middleware lets the POST through, and the service's own check refuses it.
    Tenant.objects.filter(pk=tenant.pk).update(billing_status="active", billing_past_due_since=None)
    before = things.count(limit)
    if limit is Limit.MEMBERS:
        path, data = "/members/", {"email": "late@example.com", "role": "member"}
    else:
        path, data = form_data(limit, things)

    response = manager_client.post(path, data)

    assert response.status_code in (200, 400, 403)
    assert "is read-only: its payment is overdue; nothing was changed." in response.content.decode()
    with tenant_context(tenant):
        assert things.count(limit) == before


# --- commands ----------------------------------------------------------------------------------------------------


def test_create_tenant_subscribes_to_the_plan_given_and_refuses_an_unknown_one_naming_the_plans(db: None) -> None:
    call_command("create_tenant", "--name", "Planned", "--slug", "planned", "--plan", "starter", "--noinput",
                 stdout=io.StringIO())  # fmt: skip
    assert subscription_of(Tenant.objects.get(slug="planned")).plan.code == "starter"

    with pytest.raises(CommandError) as refused:
        call_command("create_tenant", "--name", "Nope", "--slug", "nope", "--plan", "gold", "--noinput")

    assert refused.value.returncode == 2
    assert "plan 'gold' does not exist; expected one of: free, starter, pro" in str(refused.value)
    assert not Tenant.objects.filter(slug="nope").exists()


def test_seed_demo_puts_the_demo_tenants_on_the_plan_given_and_refuses_an_unknown_one(db: None) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", "--plan", "gold", stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert "expected one of: free, starter, pro" in str(refused.value)
    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    assert (subscription_of(acme).plan.code, subscription_of(globex).plan.code) == ("pro", "free")

    call_command("seed_demo", "--plan", "starter", stdout=io.StringIO())

    assert (subscription_of(acme).plan.code, subscription_of(globex).plan.code) == ("starter", "starter")


# --- concurrency -------------------------------------------------------------------------------------------------


RACERS = 4


@pytest.fixture(scope="module")
def race_tenant(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    """A committed tenant on the default plan (free: 10 products), for creators on connections of their own."""
    with committed_tenants(django_db_blocker, ["planrace"]), django_db_blocker.unblock():
        yield Tenant.objects.get(slug="planrace")


def race(tenant: Tenant, *, below: int) -> tuple[list[str], int]:
    """Fill `tenant` to `below` under its product limit (committed), then let RACERS threads, each on its own
    database connection, create one product each at the same moment. Each waits, once its limit check passed,
    up to 2 s for the others to pass theirs too: without the lock they all do, with it the others are still
    queued on the subscription. Returns the outcomes and the product count."""
    allowed = subscription_of(tenant).plan.allowed(Limit.PRODUCTS)
    assert allowed is not None and allowed > below
    with tenant_context(tenant):
        Product.objects.all().delete()
        Product.objects.bulk_create(
            Product(name=f"Filler {n}", sku=f"FILL-{n}", price="1.00") for n in range(allowed - below)
        )
    start = threading.Barrier(RACERS)
    outcomes: list[str] = []

    def create(n: int) -> None:
        try:
            start.wait(timeout=10)
            with tenant_context(tenant):
                product_create(name=f"Racer {n}", sku=f"RACE-{n}", price="1.00")
            outcomes.append("created")
        except PlanLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=create, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with tenant_context(tenant):
        count = Product.objects.count()
    return sorted(outcomes), count


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a limit check passes, wait (at most 2 s) until every racer has passed its own check."""
    check, gate = billing_services.limit_check, threading.Barrier(RACERS)

    def waiting(**kwargs: Any) -> None:
        check(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=2)

    monkeypatch.setattr(billing_services, "limit_check", waiting)


def test_concurrent_creators_on_their_own_connections_stop_exactly_at_the_limit(
    race_tenant: Tenant, slow_check: None
) -> None:
    outcomes, count = race(race_tenant, below=2)

    assert outcomes == ["created", "created", "refused", "refused"]
    assert count == subscription_of(race_tenant).plan.allowed(Limit.PRODUCTS)


def test_without_the_subscription_lock_concurrent_creators_overshoot_the_limit(
    race_tenant: Tenant, slow_check: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same race with plan_limit_check's row lock taken away: each creator counts before the others
    # insert, so all pass. This is what the lock in the test above prevents.
    unlocked = billing_services.subscription_of
    monkeypatch.setattr(billing_services, "subscription_of", lambda tenant, *, lock=False: unlocked(tenant))

    outcomes, count = race(race_tenant, below=2)

    allowed = subscription_of(race_tenant).plan.allowed(Limit.PRODUCTS)
    assert allowed is not None
    assert outcomes == ["created"] * RACERS
    assert count == allowed + RACERS - 2
