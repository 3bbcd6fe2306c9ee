"""Uploaded files: each tenant's host serves only that tenant's folder, and only to its members."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django_tenants.utils import schema_context

from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_drop
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from .conftest import path_routing
from conftest import assert_stranger_refused

ACME_BYTES = b"acme's file"
GLOBEX_BYTES = b"globex's secret file"


@pytest.fixture
def files(media_file: Callable[[Any, str, bytes], str], tenant: Any, other_tenant: Any) -> dict[str, str]:
    return {
        "acme": media_file(tenant, "products/acme.png", ACME_BYTES),
        "globex": media_file(other_tenant, "products/globex.png", GLOBEX_BYTES),
    }


def test_a_member_gets_their_tenants_file(tenant_client: Client, files: dict[str, str]) -> None:
    response = tenant_client.get(f"/media/{files['acme']}")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == ACME_BYTES  # type: ignore[arg-type]
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_files_are_stored_in_each_tenants_own_folder(media_root: Path, files: dict[str, str]) -> None:
    assert (media_root / "tenant_acme" / files["acme"]).read_bytes() == ACME_BYTES
    assert (media_root / "tenant_globex" / files["globex"]).read_bytes() == GLOBEX_BYTES


TRAVERSALS = [
    "/media/{globex}",  # another tenant's file name
    "/media/../tenant_globex/{globex}",
    "/media/products/../../tenant_globex/{globex}",
    "/media/%2e%2e/tenant_globex/{globex}",
    "/media/..%2ftenant_globex%2f{globex}",
    "/media/%2e%2e%2ftenant_globex%2f{globex}",
    "/media/%252e%252e/tenant_globex/{globex}",
    "/media/.%2e/tenant_globex/{globex}",
    "/media/..%5ctenant_globex%5c{globex}",
    "/media//{root}/tenant_globex/{globex}",
    "/media/%2F{root}/tenant_globex/{globex}",
    "/media//etc/passwd",
    "/media/products/acme.png%00.txt",
    "/media/./products/acme.png",
    "/media/products//acme.png",
    "/media/",
]


@pytest.mark.guards_media_containment
def test_paths_outside_the_tenants_folder_are_404(
    tenant_client: Client, media_root: Path, files: dict[str, str]
) -> None:
    for template in TRAVERSALS:
        path = template.format(globex=files["globex"], root=str(media_root).lstrip("/"))

        response = tenant_client.get(path)

        assert response.status_code == 404, path
        content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[arg-type]
        assert GLOBEX_BYTES not in content, path
        assert b"root:" not in content, path


@pytest.mark.guards_media_containment
def test_symbolic_links_out_of_the_tenants_folder_are_404(
    tenant_client: Client, media_root: Path, files: dict[str, str]
) -> None:
    acme_folder = media_root / "tenant_acme" / "products"
    os.symlink(media_root / "tenant_globex" / files["globex"], acme_folder / "link-to-globex.png")
    os.symlink(media_root / "tenant_globex", media_root / "tenant_acme" / "globex")
    os.symlink("/etc/passwd", acme_folder / "passwd.png")

    for path in ["products/link-to-globex.png", f"globex/{files['globex']}", "products/passwd.png"]:
        assert tenant_client.get(f"/media/{path}").status_code == 404, path


@pytest.mark.guards_authorization
def test_another_tenants_member_is_refused_a_file(
    client_for: Callable[..., Client], tenant: Any, globex_member: Any, files: dict[str, str]
) -> None:
    globex_session = client_for(tenant, globex_member)  # globex's member, on acme (its host, or its paths)

    response = globex_session.get(f"/media/{files['acme']}")

    assert_stranger_refused(response, files["acme"])


@pytest.mark.guards_authorization
def test_a_members_session_gets_no_file_of_another_tenant_by_host_or_path(
    tenant_client: Client, files: dict[str, str]
) -> None:
    globex = files["globex"]
    if path_routing():
        prefix = settings.TENANCY_PATH_PREFIX
        requests: list[tuple[str, dict[str, str]]] = [
            (f"/{prefix}/globex/media/{globex}", {}),
            (f"/{prefix}/GLOBEX/media/{globex}", {}),
            (f"/{prefix}/acme/../globex/media/{globex}", {}),
            (f"/{prefix}/acme/media/../../globex/media/{globex}", {}),
            (f"/{prefix}/acme%2F..%2Fglobex/media/{globex}", {}),
        ]
    else:
        requests = [(f"/media/{globex}", {"HTTP_HOST": host}) for host in ("globex.localhost", "GLOBEX.localhost.")]
    with tenant_client.verbatim():  # type: ignore[attr-defined]  # a TenantClient: full paths
        for path, headers in requests:
            response = tenant_client.get(path, **headers)

            # Domain routing: the login page (anonymous on globex's host); path routing: refused or not found.
            content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[arg-type]
            assert response.status_code in (302, 403, 404), (path, headers, response.status_code)
            assert GLOBEX_BYTES not in content, (path, headers)


def test_media_are_not_served_on_the_public_host(db: None, files: dict[str, str]) -> None:
    assert Client(HTTP_HOST="localhost").get(f"/media/{files['acme']}").status_code == 404


def test_a_tenant_created_again_under_a_dropped_tenants_slug_finds_none_of_its_files(
    db: None, media_root: Path, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    Tenant.objects.create(name="Gone", slug="gone-media", schema_name="tenant_gone_media")  # no schema needed
    with schema_context("tenant_gone_media"):
        name = default_storage.save("products/old.png", ContentFile(b"the dropped tenant's file"))

    with django_capture_on_commit_callbacks(execute=True):
        tenant_drop(slug="gone-media")

    assert not (media_root / "tenant_gone_media").exists()  # the next tenant_gone_media starts empty
    kept = list((media_root / ".dropped").glob(f"tenant_gone_media-*/{name}"))
    assert len(kept) == 1  # kept aside for a restore, outside every tenant's folder
