"""The generated project's procedure for converting a single-tenant app (docs/adoption.md), followed as a user would.

A stand-in legacy project (`petshop`, app `shop`: pets, vet visits and notes, with foreign keys and a
many-to-many link to Django's auth_user and a generic foreign key) is migrated into a throwaway database on the machine's PostgreSQL and given users and
rows. Then, in a bake of its own: the app is brought in as docs/adoption.md says (TENANT_APPS, app label kept,
tenant URLs, tenant admin), the database is copied, `adopt_single_tenant` runs (dry run first),
`migrate_schemas` follows, and a real server must serve the legacy rows at the tenant's domain to an
imported user.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ADMIN_DATABASE_URL, CONFIGURATIONS, DB_PREFIX, REDIS_URL, Bakery, describe, psql, run, tool_env

pytestmark = pytest.mark.slow

LEGACY_MODELS = """
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Pet(models.Model):
    name = models.CharField(max_length=100)
    species = models.CharField(max_length=50)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    carers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")


class Visit(models.Model):
    pet = models.ForeignKey(Pet, on_delete=models.CASCADE, related_name="visits")
    vet = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()


class Note(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    about = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=200)
"""
LEGACY_VIEWS = """
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse

from .models import Note, Pet, Visit


@login_required
def pet_list(request):
    pets = [
        f"{pet.name}/{pet.added_by.email if pet.added_by else '-'}"
        f"/carers:{'+'.join(sorted(user.email for user in pet.carers.all()))}"
        for pet in Pet.objects.order_by("id")
    ]
    visits = [f"{visit.pet.name}/{visit.vet.email}" for visit in Visit.objects.order_by("id")]
    notes = [f"{note.content_type.model} {note.about.pk}: {note.text}" for note in Note.objects.order_by("id")]
    return HttpResponse(f"pets: {', '.join(pets)}; visits: {', '.join(visits)}; notes: {', '.join(notes)}")
"""
LEGACY_URLS = """
from django.urls import path

from . import views

urlpatterns = [path("", views.pet_list)]
"""
LEGACY_SETTINGS = """
import os

SECRET_KEY = "legacy"
INSTALLED_APPS = [
    "django.contrib.contenttypes", "django.contrib.auth", "django.contrib.admin", "django.contrib.sessions",
    "django.contrib.messages", "shop",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["LEGACY_DB"],
             "USER": "postgres", "HOST": "127.0.0.1", "PORT": 5432}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.contrib.auth.context_processors.auth", "django.contrib.messages.context_processors.messages",
                           "django.template.context_processors.request"]}}]
"""
LEGACY_DATA = """
import datetime
from django.contrib.auth.models import User
from shop.models import Note, Pet, Visit
from django.utils import timezone

boss = User.objects.create_superuser("boss", "Boss@PetShop.example", "boss-pass-123")
vera = User.objects.create_user("vera", "vera@petshop.example", "vera-pass-123", is_staff=True)
vera_old = User.objects.create_user("vera2", "VERA@petshop.example", "vera-old-pass")
clerk = User.objects.create_user("clerk", "", "clerk-pass-123")
User.objects.filter(pk=vera.pk).update(last_login=timezone.now())
rex = Pet.objects.create(name="Rex", species="dog", added_by=boss)
tom = Pet.objects.create(name="Tom", species="cat", added_by=vera_old)
Pet.objects.create(name="Nemo", species="fish", added_by=clerk)
rex.carers.add(vera, vera_old)  # one carer once the two veras are one account
tom.carers.add(boss, clerk)  # clerk is not imported: the link goes
Visit.objects.create(pet=rex, vet=vera, day=datetime.date(2026, 3, 1))
checkup = Visit.objects.create(pet=tom, vet=vera_old, day=datetime.date(2026, 4, 2))
Note.objects.create(about=rex, text="afraid of cats")
Note.objects.create(about=checkup, text="weigh again")
"""
# What step 1 of docs/adoption.md asks for, in the project's own words.
SHOP_APPS = """
from django.apps import AppConfig


class ShopConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "acme_saas.shop"
    label = "shop"
"""
SHOP_ADMIN = """
from ..accounts.admin_site import TenantModelAdmin, tenant_admin_site
from .models import Pet, Visit

tenant_admin_site.register(Pet, TenantModelAdmin)
tenant_admin_site.register(Visit, TenantModelAdmin)
"""
LOGIN_AND_FETCH = """
import http.cookiejar, re, sys, urllib.parse, urllib.request

base, host, email, password = sys.argv[1:5]
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def get(path, data=None):
    # *.localhost names need not resolve outside browsers: connect to base, name the host in the header.
    headers = {"Host": host, "Referer": f"http://{host}/accounts/login/"}
    return opener.open(urllib.request.Request(f"{base}{path}", data=data, headers=headers)).read().decode()


token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', get("/accounts/login/")).group(1)
get("/accounts/login/", urllib.parse.urlencode({"login": email, "password": password, "csrfmiddlewaretoken": token}).encode())
print(get("/shop/"))
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def databases(bakery: Bakery) -> Iterator[tuple[str, str]]:
    """(legacy database, its copy for the project); both dropped afterwards."""
    project = bakery.synced("defaults")
    legacy = f"{DB_PREFIX}petshop_{uuid.uuid4().hex[:8]}"
    copy = f"{legacy}_tenants"
    created = psql(project, f'CREATE DATABASE "{legacy}"')
    if created.returncode != 0:
        pytest.fail(f"cannot create a database on {ADMIN_DATABASE_URL}: {describe(created)}")
    try:
        yield legacy, copy
    finally:
        for name in (copy, legacy):
            psql(project, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_documented_conversion_procedure_serves_the_legacy_data_at_the_tenant_domain(
    bakery: Bakery, databases: tuple[str, str], tmp_path: Path
) -> None:
    legacy_db, copy_db = databases
    project = bakery.bake("adoption", extra_context=CONFIGURATIONS["defaults"])
    synced = run(["uv", "sync"], cwd=project, timeout=1800)
    assert synced.returncode == 0, describe(synced)
    python = str(project / ".venv" / "bin" / "python")

    # The legacy single-tenant app and its database, built with its own settings and migrations.
    legacy = tmp_path / "petshop"
    for name, text in {"models.py": LEGACY_MODELS, "views.py": LEGACY_VIEWS, "urls.py": LEGACY_URLS}.items():
        write(legacy / "shop" / name, text)
    write(legacy / "shop" / "__init__.py", "")
    write(legacy / "shop" / "migrations" / "__init__.py", "")
    write(legacy / "legacy_settings.py", LEGACY_SETTINGS)
    legacy_env = {"LEGACY_DB": legacy_db, "DJANGO_SETTINGS_MODULE": "legacy_settings", "PYTHONPATH": str(legacy)}
    for args in (["makemigrations", "shop"], ["migrate"], ["shell", "-c", LEGACY_DATA]):
        step = run([python, "-m", "django", *args], cwd=legacy, extra_env=legacy_env)
        assert step.returncode == 0, describe(step)

    # Step 1: bring the app in, keeping its label and migrations.
    package = project / "acme_saas"
    subprocess.run(["cp", "-r", str(legacy / "shop"), str(package / "shop")], check=True)
    write(package / "shop" / "apps.py", SHOP_APPS)
    write(package / "shop" / "admin.py", SHOP_ADMIN)
    settings = project / "config" / "settings" / "base.py"
    text = settings.read_text()
    assert '    "acme_saas.bookings",\n]' in text
    settings.write_text(
        text.replace('    "acme_saas.bookings",\n]', '    "acme_saas.bookings",\n    "acme_saas.shop",\n]', 1)
    )
    urls = project / "config" / "urls_tenants.py"
    anchor = '    path("bookings/", include("acme_saas.bookings.urls")),\n'
    assert anchor in urls.read_text()
    urls.write_text(urls.read_text().replace(anchor, anchor + '    path("shop/", include("acme_saas.shop.urls")),\n'))

    # Step 2: work on a copy; .env points the project at it.
    copied = psql(project, f'CREATE DATABASE "{copy_db}" TEMPLATE "{legacy_db}"')
    assert copied.returncode == 0, describe(copied)
    base_url = ADMIN_DATABASE_URL.rsplit("/", 1)[0]
    (project / ".env").write_text(f"DATABASE_URL={base_url}/{copy_db}\nREDIS_URL={REDIS_URL}\n")

    # Step 3: preview, then adopt.
    manage = ["uv", "run", "--no-sync", "python", "manage.py"]
    adopt = [*manage, "adopt_single_tenant", "--name", "Pet Shop", "--slug", "petshop"]
    preview = run([*adopt, "--dry-run"], cwd=project)
    assert preview.returncode == 0, describe(preview)
    assert re.search(r"shop_pet\s+3 rows", preview.stdout), describe(preview)
    assert "merged into vera@petshop.example" in preview.stdout, describe(preview)
    assert "skipped clerk (id 4): no email address" in preview.stdout, describe(preview)
    carers = "shop_pet_carers.user_id: 4 rows, 1 removed (user not imported), 1 duplicate link removed (users merged)"
    assert carers in preview.stdout, describe(preview)
    assert re.search(r"shop_note.content_type_id: 2 rows", preview.stdout), describe(preview)
    assert "Dry run: nothing was changed." in preview.stdout
    adopted = run([*adopt, "--owner-email", "boss@petshop.example"], cwd=project)
    assert adopted.returncode == 0, describe(adopted)
    again = run([*adopt], cwd=project)
    assert again.returncode == 2, describe(again)

    # Step 4: check the result.
    migrated = run([*manage, "migrate_schemas", "--noinput"], cwd=project)
    assert migrated.returncode == 0, describe(migrated)
    listed = run([*manage, "migrate_schemas", "--list", "--format", "json"], cwd=project)
    assert listed.returncode == 0, describe(listed)
    schemas = {row["schema"]: row for row in json.loads(listed.stdout[listed.stdout.index("[") :])}
    assert schemas["tenant_petshop"]["pending"] == [] and schemas["tenant_petshop"]["applied"] > 0
    port = free_port()
    server = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project, env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        page = None
        for _ in range(60):
            fetched = run(
                [
                    python,
                    "-c",
                    LOGIN_AND_FETCH,
                    f"http://127.0.0.1:{port}",
                    f"petshop.localhost:{port}",
                    "VERA@petshop.example",
                    "vera-pass-123",
                ],
                cwd=project,
            )
            if fetched.returncode == 0:
                page = fetched.stdout
                break
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert page is not None, describe(fetched)
    pets = "Rex/boss@petshop.example/carers:vera@petshop.example, Tom/vera@petshop.example/carers:boss@petshop.example"
    assert f"pets: {pets}, Nemo/-/carers:;" in page, page
    assert "visits: Rex/vera@petshop.example, Tom/vera@petshop.example;" in page, page
    # Generic foreign keys: the notes' content types are the tenant's own, found by app label and model.
    assert "notes: pet 1: afraid of cats, visit 2: weigh again" in page, page
