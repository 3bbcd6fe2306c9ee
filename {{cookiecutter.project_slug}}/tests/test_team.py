"""Team accounts through the pages: login and crossing between hosts, the tenant switcher, logout on every
host, the members page, invitations, password reset and email verification (two tenants: acme, globex).

Every test runs in both routing modes. Domain mode: each tenant on its own host, a crossing carries a one-time
login token to a new host-only session. Path mode: tenants under `/<prefix>/<slug>/` on the public host, one
session for all, a crossing is a plain redirect (`crossed` asserts each mode's own crossing)."""

import hashlib
import re
from datetime import timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from django.db import connection
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from {{ cookiecutter.project_slug }}.accounts.invitations import invitation_create
from {{ cookiecutter.project_slug }}.accounts.models import BrowserSession, Invitation, LoginToken, Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_delete
from {{ cookiecutter.project_slug }}.accounts.sessions import FAMILY_KEY
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from conftest import TenantClient, client_on

pytestmark = pytest.mark.django_db

PASSWORD = "violet-harbour-lantern-42"
PUBLIC = "localhost"
# Labels of a browser's clients (browser_on_tenants); in domain mode also the tenants' hosts.
ACME = "acme.localhost"
GLOBEX = "globex.localhost"
# Path mode: every tenant under /<prefix>/<slug>/ on the public host, one session for all (no login tokens).
PATH_MODE = settings.TENANCY_ROUTING == "path"


def person(email, memberships=(), password=PASSWORD):
    """A user with `password` and the given (tenant, role) memberships."""
    connection.set_schema_to_public()
    user = User.objects.create_user(email=email, password=password)
    for each, role in memberships:
        membership_grant(user=user, tenant=each, role=role)
    return user


def text(response):
    """The page's visible text, tags removed and entities decoded, on one line."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def login(client, email, password=PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def follow_to_host(location):
    """Open the absolute URL `location` (another host) in a new browser: a client on that host."""
    url = urlsplit(location)
    client = Client(HTTP_HOST=url.netloc)
    response = client.get(url.path)
    return client, response


def crossed(public, response, slug):
    """The client a browser uses on tenant `slug` after `response` (to a login or a switch on `public`) sent it
    there. Domain mode: a URL with a one-time login token on the tenant's host, which logs a new client (the
    browser's host-only session there) in and lands on "/". Path mode: the tenant's home on the same host, no
    token; the client shares `public`'s cookies (one session)."""
    assert response.status_code == 302
    location = response["Location"]
    if PATH_MODE:
        base = f"/{settings.TENANCY_PATH_PREFIX}/{slug}"
        assert location == f"{base}/"
        client = TenantClient(base, HTTP_HOST=PUBLIC)
        client.cookies = public.cookies
        return client
    assert location.startswith(f"http://{slug}.localhost/accounts/token/")
    client, landed = follow_to_host(location)
    assert landed.status_code == 302
    assert landed["Location"] == "/"
    return client


def logged_in(client):
    """Whether `client` is logged in where it is: the public host's picker or a tenant's dashboard opens."""
    on_tenant = client.defaults["HTTP_HOST"] != PUBLIC or getattr(client, "base_path", "")
    response = client.get("/" if on_tenant else "/accounts/tenants/")
    if response.status_code == 302:
        assert urlsplit(response["Location"]).path.endswith("/accounts/login/")
        return False
    assert response.status_code == 200
    return True


def family_of(client):
    connection.set_schema_to_public()
    return BrowserSession.objects.get(session_key=client.cookies["sessionid"].value).family


def browser_on_tenants(email, *slugs):
    """Log `email` in on the public host, then cross to each tenant in `slugs` (POST /accounts/switch/).

    Returns {label: client}: PUBLIC and "<slug>.localhost" (`crossed`); in domain mode one client per host, as a
    browser keeps one host-only session per host, in path mode clients sharing the one session."""
    public = Client(HTTP_HOST=PUBLIC)
    assert login(public, email).status_code == 302
    clients = {PUBLIC: public}
    for slug in slugs:
        clients[f"{slug}.localhost"] = crossed(public, public.post("/accounts/switch/", {"tenant": slug}), slug)
    return clients


@pytest.fixture
def new_invitations(db):
    """Invitations created since the test started (the server of the browser tests commits some of its own)."""
    connection.set_schema_to_public()
    last = Invitation.objects.aggregate(last=Max("pk"))["last"] or 0

    def query():
        connection.set_schema_to_public()
        return Invitation.objects.filter(pk__gt=last)

    return query


@pytest.fixture
def both(tenant, other_tenant):
    """A member of acme and of globex."""
    return person("both@example.com", [(tenant, "member"), (other_tenant, "member")])


@pytest.fixture
def admin_user(tenant):
    return person("admin@acme.localhost", [(tenant, "admin")])


# --- login on the public host ------------------------------------------------------------------------


def test_member_of_one_tenant_goes_straight_to_its_host_logged_in(tenant):
    person("solo@example.com", [(tenant, "member")])
    public = Client(HTTP_HOST=PUBLIC)

    response = login(public, "Solo@Example.com")

    acme = crossed(public, response, "acme")
    dashboard = acme.get("/")
    assert dashboard.status_code == 200
    assert "Acme Corporation" in text(dashboard)
    assert "solo@example.com · member" in text(dashboard)


def test_member_of_two_tenants_picks_one_and_crosses_to_it(both):
    public = Client(HTTP_HOST=PUBLIC)

    response = login(public, "both@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/tenants/"
    picker = public.get("/accounts/tenants/")
    assert picker.status_code == 200
    assert b'data-testid="open-acme"' in picker.content
    assert b'data-testid="open-globex"' in picker.content
    assert "Acme Corporation" in text(picker) and "Globex Corporation" in text(picker)

    globex = crossed(public, public.post("/accounts/switch/", {"tenant": "globex"}), "globex")
    dashboard = globex.get("/")
    assert dashboard.status_code == 200
    assert "Globex Corporation" in text(dashboard)


def test_switching_to_a_tenant_one_is_not_a_member_of_is_404_and_issues_no_token(tenant):
    person("solo@example.com", [(tenant, "member")])
    public = Client(HTTP_HOST=PUBLIC)
    login(public, "solo@example.com")
    connection.set_schema_to_public()
    tokens = LoginToken.objects.count()

    for slug in ("globex", "no-such-tenant", ""):
        assert public.post("/accounts/switch/", {"tenant": slug}).status_code == 404, slug

    connection.set_schema_to_public()
    assert LoginToken.objects.count() == tokens


def test_user_without_tenants_is_told_so_after_login(db):
    person("loner@example.com")
    public = Client(HTTP_HOST=PUBLIC)

    response = login(public, "loner@example.com")

    assert response["Location"] == "/accounts/tenants/"
    picker = public.get("/accounts/tenants/")
    assert b'data-testid="no-tenants"' in picker.content
    assert "not a member of any workspace" in text(picker)
    assert b'data-testid="open-' not in picker.content


def test_wrong_password_on_the_public_host_logs_nobody_in(tenant):
    person("solo@example.com", [(tenant, "member")])
    public = Client(HTTP_HOST=PUBLIC)

    response = login(public, "solo@example.com", "not-the-password")

    assert response.status_code == 200
    assert "not correct" in text(response)
    assert not logged_in(public)
    connection.set_schema_to_public()
    assert not LoginToken.objects.filter(user__email="solo@example.com").exists()


def test_tenants_that_are_not_active_are_neither_offered_nor_opened(tenant, other_tenant, both):
    Tenant.objects.filter(pk=other_tenant.pk).update(status=Tenant.Status.SUSPENDED)
    public = Client(HTTP_HOST=PUBLIC)

    response = login(public, "both@example.com")

    crossed(public, response, "acme")  # the only active one
    assert public.post("/accounts/switch/", {"tenant": "globex"}).status_code == 404


# --- login on a tenant host ----------------------------------------------------------------------------


def test_login_on_a_tenant_host_works_for_its_members(tenant, tenant_path):
    person("solo@example.com", [(tenant, "member")])
    acme = client_on(tenant)

    response = login(acme, "solo@example.com")

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/")
    assert logged_in(acme)


def test_login_on_a_tenant_host_is_refused_for_non_members_naming_email_and_tenant(tenant, other_tenant):
    person("solo@example.com", [(tenant, "member")])
    globex = client_on(other_tenant)

    response = login(globex, "solo@example.com")

    assert response.status_code == 200
    assert "solo@example.com is not a member of Globex Corporation." in text(response)
    assert "_auth_user_id" not in globex.session
    assert not logged_in(globex)


@pytest.mark.parametrize("target", ["http://globex.localhost/", "//globex.localhost/", "https://evil.example/"])
def test_login_on_a_tenant_host_never_follows_next_to_another_host(tenant, tenant_path, target):
    person("solo@example.com", [(tenant, "member")])

    response = client_on(tenant).post(
        "/accounts/login/", {"login": "solo@example.com", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/")


def test_login_on_a_tenant_host_follows_next_on_the_same_host(tenant, tenant_path):
    person("solo@example.com", [(tenant, "member")])
    response = client_on(tenant).post(
        "/accounts/login/", {"login": "solo@example.com", "password": PASSWORD, "next": tenant_path("/products/")}
    )
    assert response["Location"] == tenant_path("/products/")


# --- tenant switcher -----------------------------------------------------------------------------------


def test_switcher_lists_the_other_tenants_of_a_member_of_several(both):
    acme = browser_on_tenants("both@example.com", "acme")[ACME]

    page = acme.get("/")

    assert b'data-testid="tenant-switcher"' in page.content
    assert b'data-testid="switch-globex"' in page.content
    assert b'data-testid="switch-acme"' not in page.content  # the current tenant is not offered


def test_switcher_is_absent_for_a_member_of_one_tenant(tenant, member_user, client_for):
    page = client_for(tenant, member_user).get("/")
    assert page.status_code == 200
    assert b'data-testid="tenant-switcher"' not in page.content
    assert b'data-testid="switch-globex"' not in page.content


def test_switching_from_a_tenant_host_opens_the_other_in_the_same_login_family(both):
    clients = browser_on_tenants("both@example.com", "acme")
    acme = clients[ACME]

    crossing = acme.post("/accounts/switch/", {"tenant": "globex"})

    globex = crossed(clients[PUBLIC], crossing, "globex")
    assert crossing["Cache-Control"] == "no-store"
    assert logged_in(globex)
    family = family_of(clients[PUBLIC])
    assert len(family) == 32
    assert family_of(acme) == family
    assert family_of(globex) == family
    assert globex.session[FAMILY_KEY] == family  # the session data carries it on to the next crossing


# --- logout ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [PUBLIC, ACME, GLOBEX])
def test_logout_on_one_host_logs_the_browser_out_of_every_host_but_not_other_browsers(both, host):
    browser = browser_on_tenants("both@example.com", "acme", "globex")
    other_browser = browser_on_tenants("both@example.com", "acme")
    assert all(logged_in(client) for client in browser.values())

    response = browser[host].post("/accounts/logout/")

    assert response.status_code == 302
    for each, client in browser.items():
        assert not logged_in(client), each
    connection.set_schema_to_public()
    # The other browser's sessions: one per host in domain mode (public, acme), its one session in path mode.
    assert BrowserSession.objects.filter(user_id=both.pk).count() == (1 if PATH_MODE else 2)
    assert all(logged_in(client) for client in other_browser.values())


def test_crossing_to_a_host_already_logged_in_links_the_two_logins_for_logout(both, tenant):
    """Logged in on acme's pages directly and crossed from there to globex. Domain mode: later logged in on the
    public host and crossed to acme again: a logout on the public host ends acme's and globex's sessions too.
    Path mode: one session on the one host, which the public host's pages share: logging out there ends it."""
    acme = client_on(tenant)
    assert login(acme, "both@example.com").status_code == 302
    globex = crossed(acme, acme.post("/accounts/switch/", {"tenant": "globex"}), "globex")
    public = Client(HTTP_HOST=PUBLIC)
    if PATH_MODE:
        public.cookies = acme.cookies
        assert logged_in(public)
        assert family_of(globex) == family_of(acme)
    else:
        login(public, "both@example.com")
        crossing = urlsplit(public.post("/accounts/switch/", {"tenant": "acme"})["Location"])
        assert acme.get(crossing.path).status_code == 302
        assert family_of(globex) == family_of(acme) == family_of(public)
        assert globex.session[FAMILY_KEY] == family_of(public)

    public.post("/accounts/logout/")

    for each, client in {PUBLIC: public, ACME: acme, GLOBEX: globex}.items():
        assert not logged_in(client), each


# --- members page ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_see_the_members_page(tenant, client_for, member_user, role):
    manager = person(f"{role}-2@acme.localhost", [(tenant, role)])

    page = client_for(tenant, manager).get("/members/")

    assert page.status_code == 200
    emails = re.findall(r'data-testid="member-row" data-email="([^"]+)"', page.content.decode())
    expected = {
        "owner": ["owner-2@acme.localhost", "owner@acme.localhost", "member@acme.localhost"],
        "admin": ["owner@acme.localhost", "admin-2@acme.localhost", "member@acme.localhost"],
    }
    # Owners, admins, members; by email within a role.
    assert [email for email in emails if email in expected[role]] == expected[role]
    assert b'data-testid="members-link"' in page.content


def test_members_get_403_and_no_members_link(tenant, tenant_client, new_invitations):
    page = tenant_client.get("/members/")
    assert page.status_code == 403
    assert b'data-testid="forbidden"' in page.content
    assert b'data-testid="members-link"' not in tenant_client.get("/").content
    assert tenant_client.post("/members/", {"email": "x@example.com", "role": "member"}).status_code == 403
    assert not new_invitations().exists()


def test_anonymous_visitors_are_sent_to_the_login_page(tenant, client_for, login_redirect):
    response = client_for(tenant).get("/members/")
    assert response.status_code == 302
    assert response["Location"] == login_redirect("/members/")


def test_members_page_is_not_on_the_public_host(db):
    assert Client(HTTP_HOST=PUBLIC).get("/members/").status_code == 404


def test_invitation_is_mailed_with_a_link_to_the_tenant_host_and_listed_as_pending(
    tenant, client_for, owner_user, new_invitations, tenant_path, tenant_url
):
    owner = client_for(tenant, owner_user)

    response = owner.post("/members/", {"email": "  New.Person@Example.com ", "role": "admin"})

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/members/")
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["new.person@example.com"]
    assert "Acme Corporation" in sent.subject
    assert "as admin" in sent.body
    match = re.search(rf"{re.escape(tenant_url('/invitations/'))}([\w-]+)/", sent.body)
    assert match, sent.body
    invitation = new_invitations().get()
    assert invitation.tenant == tenant
    assert invitation.email == "new.person@example.com"
    assert invitation.role == "admin"
    assert invitation.invited_by == owner_user
    assert invitation.token_hash == hashlib.sha256(match.group(1).encode()).hexdigest()

    page = owner.get("/members/")
    assert "Invitation sent to new.person@example.com as admin." in text(page)
    rows = re.findall(r'<tr data-testid="invitation-row">(.*?)</tr>', page.content.decode(), re.S)
    rows = [row for row in rows if "new.person@example.com" in row]
    assert len(rows) == 1
    assert "new.person@example.com" in rows[0] and "admin" in rows[0] and "owner@acme.localhost" in rows[0]


def test_invitation_hours_follow_the_setting(settings, tenant, client_for, owner_user, new_invitations):
    settings.TENANCY_INVITATION_HOURS = 5

    client_for(tenant, owner_user).post("/members/", {"email": "late@example.com", "role": "member"})

    invitation = new_invitations().get()
    assert invitation.expires_at - invitation.created == timedelta(hours=5)
    assert "expires in 5 hours" in mail.outbox[0].body

    settings.TENANCY_INVITATION_HOURS = 24 * 7
    other, _ = invitation_create(tenant=tenant, email="week@example.com", role="member", invited_by=owner_user)
    assert other.expires_at - other.created == timedelta(days=7)


# --- bad input on invite ---------------------------------------------------------------------------------


def assert_invite_refused(response, message, new_invitations):
    assert response.status_code == 400
    assert message in text(response)
    assert b'data-testid="invite-form"' in response.content
    assert not mail.outbox
    assert not new_invitations().exists()


@pytest.mark.parametrize(
    "email", ["not-an-email", "two@@example.com", "spaces in@example.com", "@example.com", "user@nodot", "a@b..c"]
)
def test_malformed_email_is_refused_naming_it(tenant, client_for, owner_user, new_invitations, email):
    response = client_for(tenant, owner_user).post("/members/", {"email": email, "role": "member"})
    assert_invite_refused(response, f"email '{email}' is not a valid address", new_invitations)


def test_empty_email_is_refused(tenant, client_for, owner_user, new_invitations):
    response = client_for(tenant, owner_user).post("/members/", {"email": "   ", "role": "member"})
    assert_invite_refused(response, "This field is required", new_invitations)


def test_second_invitation_for_a_pending_email_is_refused_whatever_its_case(
    tenant, client_for, owner_user, new_invitations
):
    owner = client_for(tenant, owner_user)
    assert owner.post("/members/", {"email": "dup@example.com", "role": "member"}).status_code == 302
    mail.outbox.clear()

    response = owner.post("/members/", {"email": "DUP@Example.COM", "role": "admin"})

    assert response.status_code == 400
    assert "dup@example.com has already been invited to Acme Corporation" in text(response)
    assert not mail.outbox
    assert list(new_invitations().values_list("email", "role")) == [("dup@example.com", "member")]


def test_expired_invitation_is_replaced_by_a_new_one(tenant, client_for, owner_user, new_invitations):
    first, _ = invitation_create(tenant=tenant, email="again@example.com", role="member", invited_by=owner_user)
    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = client_for(tenant, owner_user).post("/members/", {"email": "again@example.com", "role": "admin"})

    assert response.status_code == 302
    assert list(new_invitations().values_list("role", flat=True)) == ["admin"]
    assert len(mail.outbox) == 1


def test_inviting_a_member_is_refused(tenant, client_for, owner_user, member_user, new_invitations):
    response = client_for(tenant, owner_user).post("/members/", {"email": "MEMBER@acme.localhost", "role": "admin"})
    assert_invite_refused(response, "member@acme.localhost is already a member of Acme Corporation", new_invitations)


def test_unknown_role_is_refused_naming_it(tenant, client_for, owner_user, new_invitations):
    response = client_for(tenant, owner_user).post("/members/", {"email": "x@example.com", "role": "superuser"})
    assert_invite_refused(response, "role 'superuser' does not exist; accepted: owner, admin, member", new_invitations)


def test_admin_cannot_invite_an_owner(tenant, client_for, admin_user, new_invitations):
    admin = client_for(tenant, admin_user)

    response = admin.post("/members/", {"email": "boss@example.com", "role": "owner"})

    assert_invite_refused(response, "only owners grant, change or remove the owner role", new_invitations)
    assert admin.post("/members/", {"email": "helper@example.com", "role": "admin"}).status_code == 302


# --- accepting an invitation ----------------------------------------------------------------------------


@pytest.fixture
def invite(tenant, owner_user):
    def make(email, role="member"):
        _invitation, token = invitation_create(tenant=tenant, email=email, role=role, invited_by=owner_user)
        return f"/invitations/{token}/"

    return make


def test_new_email_accepts_from_the_mailed_link_and_gets_an_account(
    tenant, client_for, owner_user, tenant_path, tenant_url
):
    client_for(tenant, owner_user).post("/members/", {"email": "new.person@example.com", "role": "admin"})
    link = re.search(rf"{re.escape(tenant_url(''))}(/invitations/[\w-]+/)", mail.outbox[0].body).group(1)
    browser = client_on(tenant)

    form = browser.get(link)
    assert form.status_code == 200
    assert "new.person@example.com is invited as admin by owner@acme.localhost" in text(form)
    assert "Create your account" in text(form)
    response = browser.post(link, {"name": "New Person", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/")
    connection.set_schema_to_public()
    user = User.objects.get(email="new.person@example.com")
    assert user.name == "New Person"
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(user=user, tenant=tenant).role == "admin"
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == ("new.person@example.com", True, True)
    invitation = Invitation.objects.get(tenant=tenant, email="new.person@example.com")
    assert invitation.accepted_at is not None and invitation.accepted_by == user
    dashboard = browser.get("/")
    assert dashboard.status_code == 200
    assert "new.person@example.com · admin" in text(dashboard)


def test_weak_password_for_a_new_account_is_refused_and_creates_nothing(tenant, invite):
    link = invite("new.person@example.com")
    browser = client_on(tenant)

    response = browser.post(link, {"name": "New Person", "password": "short"})

    assert response.status_code == 400
    assert "too short" in text(response)
    connection.set_schema_to_public()
    assert not User.objects.filter(email="new.person@example.com").exists()
    assert Invitation.objects.get(tenant=tenant, email="new.person@example.com").accepted_at is None


def test_existing_account_accepts_with_its_own_password_only(tenant, other_tenant, invite):
    user = person("known@example.com", [(other_tenant, "admin")])
    link = invite("Known@Example.com")
    browser = client_on(tenant)
    form = browser.get(link)
    assert "You already have an account" in text(form)
    assert b'name="name"' not in form.content

    wrong = browser.post(link, {"password": "not-the-password"})

    assert wrong.status_code == 400
    assert "the password is not the one of the account known@example.com" in text(wrong)
    connection.set_schema_to_public()
    assert not Membership.objects.filter(user=user, tenant=tenant).exists()
    assert Invitation.objects.get(tenant=tenant, email="known@example.com").accepted_at is None
    assert not logged_in(browser)

    right = browser.post(link, {"name": "Ignored", "password": PASSWORD})

    assert right.status_code == 302
    connection.set_schema_to_public()
    assert Membership.objects.get(user=user, tenant=tenant).role == "member"
    assert Membership.objects.get(user=user, tenant=other_tenant).role == "admin"
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    assert User.objects.filter(email__iexact="known@example.com").count() == 1
    assert logged_in(browser)


def test_an_accepted_link_cannot_be_used_again(tenant, invite):
    link = invite("new.person@example.com")
    assert client_on(tenant).post(link, {"name": "", "password": PASSWORD}).status_code == 302

    again = client_on(tenant)
    for response in (again.get(link), again.post(link, {"password": PASSWORD})):
        assert response.status_code == 410
        assert "accepted already" in text(response)
    assert not logged_in(again)


def test_an_expired_link_is_refused(tenant, invite):
    link = invite("new.person@example.com")
    Invitation.objects.filter(tenant=tenant, email="new.person@example.com").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    browser = client_on(tenant)

    response = browser.post(link, {"name": "", "password": PASSWORD})

    assert response.status_code == 410
    assert "this invitation expired (invitations are valid for 72 hours)" in text(response).lower()
    connection.set_schema_to_public()
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_a_link_used_on_another_tenants_host_is_refused(tenant, other_tenant, invite):
    link = invite("new.person@example.com")
    globex = client_on(other_tenant)

    for response in (globex.get(link), globex.post(link, {"password": PASSWORD})):
        assert response.status_code == 410
        assert "for another workspace, not Globex Corporation" in text(response)
    connection.set_schema_to_public()
    assert not User.objects.filter(email="new.person@example.com").exists()
    assert Invitation.objects.get(tenant=tenant, email="new.person@example.com").accepted_at is None


@pytest.mark.parametrize("token", ["garbage", "A" * 43, "x" * 300])
def test_an_unknown_link_is_404(tenant, token):
    response = client_on(tenant).get(f"/invitations/{token}/")
    assert response.status_code == 404
    assert "not valid" in text(response)


def test_a_withdrawn_link_is_404(tenant, client_for, owner_user, invite):
    link = invite("new.person@example.com")
    connection.set_schema_to_public()
    invitation = Invitation.objects.get(tenant=tenant, email="new.person@example.com")

    response = client_for(tenant, owner_user).post(f"/members/invitations/{invitation.pk}/withdraw/")

    assert response.status_code == 302
    connection.set_schema_to_public()
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    refused = client_on(tenant).post(link, {"password": PASSWORD})
    assert refused.status_code == 404
    assert "withdrawn" in text(refused)


def test_admin_cannot_withdraw_an_owner_invitation(tenant, client_for, admin_user, invite):
    invite("boss@example.com", role="owner")
    connection.set_schema_to_public()
    invitation = Invitation.objects.get(tenant=tenant, email="boss@example.com")
    admin = client_for(tenant, admin_user)

    admin.post(f"/members/invitations/{invitation.pk}/withdraw/")

    assert "only owners grant, change or remove the owner role" in text(admin.get("/members/"))
    connection.set_schema_to_public()
    assert Invitation.objects.filter(pk=invitation.pk).exists()


# --- role changes and removal ---------------------------------------------------------------------------


def role_of(user, tenant):
    connection.set_schema_to_public()
    return Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()


def test_owner_makes_a_member_admin(tenant, client_for, owner_user, member_user):
    owner = client_for(tenant, owner_user)

    response = owner.post(f"/members/{member_user.pk}/role/", {"role": "admin"})

    assert response.status_code == 302
    assert role_of(member_user, tenant) == "admin"
    assert "member@acme.localhost is now admin." in text(owner.get("/members/"))


def test_the_last_owner_can_be_neither_demoted_nor_removed(tenant, client_for, owner_user):
    owner = client_for(tenant, owner_user)

    owner.post(f"/members/{owner_user.pk}/role/", {"role": "member"})
    assert "owner@acme.localhost is the last owner" in text(owner.get("/members/"))
    owner.post(f"/members/{owner_user.pk}/remove/")
    assert "owner@acme.localhost is the last owner" in text(owner.get("/members/"))

    assert role_of(owner_user, tenant) == "owner"


def test_with_two_owners_one_can_be_demoted(tenant, client_for, owner_user, member_user):
    owner = client_for(tenant, owner_user)
    owner.post(f"/members/{member_user.pk}/role/", {"role": "owner"})
    assert role_of(member_user, tenant) == "owner"

    owner.post(f"/members/{owner_user.pk}/role/", {"role": "admin"})

    assert role_of(owner_user, tenant) == "admin"
    assert role_of(member_user, tenant) == "owner"


def test_unknown_role_change_is_refused(tenant, client_for, owner_user, member_user):
    owner = client_for(tenant, owner_user)
    owner.post(f"/members/{member_user.pk}/role/", {"role": "superuser"})
    assert "role 'superuser' does not exist" in text(owner.get("/members/"))
    assert role_of(member_user, tenant) == "member"


def test_admin_manages_members_but_not_owners(tenant, client_for, owner_user, admin_user, member_user):
    admin = client_for(tenant, admin_user)

    admin.post(f"/members/{owner_user.pk}/role/", {"role": "member"})
    assert "only owners grant, change or remove the owner role" in text(admin.get("/members/"))
    admin.post(f"/members/{owner_user.pk}/remove/")
    assert "only owners grant, change or remove the owner role" in text(admin.get("/members/"))
    admin.post(f"/members/{member_user.pk}/role/", {"role": "owner"})
    assert "only owners grant" in text(admin.get("/members/"))
    assert role_of(owner_user, tenant) == "owner"
    assert role_of(member_user, tenant) == "member"

    admin.post(f"/members/{member_user.pk}/role/", {"role": "admin"})
    assert role_of(member_user, tenant) == "admin"


def test_members_cannot_change_roles_or_remove_anyone(tenant, tenant_client, owner_user, member_user):
    assert tenant_client.post(f"/members/{member_user.pk}/role/", {"role": "owner"}).status_code == 403
    assert tenant_client.post(f"/members/{owner_user.pk}/role/", {"role": "member"}).status_code == 403
    assert tenant_client.post(f"/members/{owner_user.pk}/remove/").status_code == 403
    assert role_of(member_user, tenant) == "member"
    assert role_of(owner_user, tenant) == "owner"


def test_removing_a_member_keeps_the_account_and_its_other_memberships(tenant, other_tenant, client_for, owner_user):
    leaver = person("leaver@example.com", [(tenant, "member"), (other_tenant, "admin")])
    leaver_on_acme = client_for(tenant, leaver)
    owner = client_for(tenant, owner_user)

    response = owner.post(f"/members/{leaver.pk}/remove/")

    assert response.status_code == 302
    assert "leaver@example.com was removed from Acme Corporation." in text(owner.get("/members/"))
    assert role_of(leaver, tenant) is None
    assert role_of(leaver, other_tenant) == "admin"
    assert User.objects.filter(pk=leaver.pk, is_active=True).exists()
    # Its session no longer opens acme: anonymous on acme's host in domain mode (the login page); in path mode the
    # one session is known there and refused.
    assert leaver_on_acme.get("/").status_code == (403 if PATH_MODE else 302)
    assert logged_in(client_for(other_tenant, leaver))


def test_role_pages_answer_404_for_someone_not_in_this_tenant(tenant, other_tenant, client_for, owner_user):
    outsider = person("outsider@example.com", [(other_tenant, "member")])
    owner = client_for(tenant, owner_user)
    assert owner.post(f"/members/{outsider.pk}/role/", {"role": "admin"}).status_code == 404
    assert owner.post(f"/members/{outsider.pk}/remove/").status_code == 404
    assert role_of(outsider, other_tenant) == "member"


# --- password reset and email verification --------------------------------------------------------------


def test_password_reset_by_mail_sets_a_new_password(tenant):
    person("forgetful@example.com", [(tenant, "member")])
    elsewhere = browser_on_tenants("forgetful@example.com", "acme")  # another browser, logged in before
    public = Client(HTTP_HOST=PUBLIC)

    response = public.post("/accounts/password/reset/", {"email": "Forgetful@example.com"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["forgetful@example.com"]
    link = re.search(r"http://localhost(/accounts/password/reset/key/[^\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form_page = public.get(link.group(1))
    assert form_page.status_code == 302  # allauth moves the key into the session
    new_password = "amber-lighthouse-quartz-17"
    done = public.post(form_page["Location"], {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password/reset/key/done/"

    assert login(Client(HTTP_HOST=PUBLIC), "forgetful@example.com").status_code == 200  # the old one fails
    for host, client in elsewhere.items():
        assert not logged_in(client), host  # sessions opened with the old password end
    crossing = login(Client(HTTP_HOST=PUBLIC), "forgetful@example.com", new_password)
    crossed(Client(HTTP_HOST=PUBLIC), crossing, "acme")
    # The link works once.
    assert "invalid" in text(Client(HTTP_HOST=PUBLIC).get(link.group(1), follow=True)).lower()


SIGNUP = {"company_name": "Initech", "slug": "initech", "email": "Boss@Initech.example", "password": PASSWORD}


def test_signup_mails_a_verification_link_that_verifies_the_address(db):
    public = Client(HTTP_HOST=PUBLIC)

    assert public.post("/signup/", SIGNUP).status_code == 302

    connection.set_schema_to_public()
    address = EmailAddress.objects.get(email="boss@initech.example")
    assert (address.verified, address.primary) == (False, True)
    sent = [m for m in mail.outbox if m.to == ["boss@initech.example"]]
    assert len(sent) == 1
    link = re.search(r"http://localhost(/accounts/confirm-email/[-:\w]+/)", sent[0].body)
    assert link, sent[0].body
    browser = Client(HTTP_HOST=PUBLIC)
    page = browser.get(link.group(1))
    assert page.status_code == 200
    assert "boss@initech.example" in text(page)
    connection.set_schema_to_public()
    assert not EmailAddress.objects.get(pk=address.pk).verified  # GET only shows the form

    assert browser.post(link.group(1)).status_code == 302

    connection.set_schema_to_public()
    assert EmailAddress.objects.get(pk=address.pk).verified


def test_allauth_own_signup_is_closed(db):
    """People join by creating a workspace (/signup/) or through an invitation."""
    response = Client(HTTP_HOST=PUBLIC).post(
        "/accounts/signup/", {"email": "drifter@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert "Sign Up Closed" in text(response)
    connection.set_schema_to_public()
    assert not User.objects.filter(email="drifter@example.com").exists()


# --- user deletion ----------------------------------------------------------------------------------------


def test_deleting_a_user_deletes_its_sessions_on_every_host_and_its_memberships(both, tenant, member_user):
    """Reassigning tenant rows (the admin log) is covered by tests/test_accounts_services.py."""
    browser = browser_on_tenants("both@example.com", "acme", "globex")
    bystander = client_on(tenant)
    assert login(bystander, "member@acme.localhost", "member-password").status_code == 302
    user_id = both.pk  # delete() clears both.pk
    connection.set_schema_to_public()
    # One session per host in domain mode (public, acme, globex), one for all in path mode.
    assert BrowserSession.objects.filter(user_id=user_id).count() == (1 if PATH_MODE else 3)

    user_delete(user=both)

    connection.set_schema_to_public()
    assert not BrowserSession.objects.filter(user_id=user_id).exists()
    assert not Membership.objects.filter(user_id=user_id).exists()
    assert BrowserSession.objects.filter(session_key=bystander.cookies["sessionid"].value).exists()
    for host, client in browser.items():
        assert not logged_in(client), host
    assert logged_in(bystander)
