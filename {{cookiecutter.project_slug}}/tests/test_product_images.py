"""Product images (stored per tenant, served on the tenant's host) and the cached catalogue page."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context
from PIL import Image

from {{ cookiecutter.project_slug }}.products.domain import IMAGE_MAX_BYTES, InvalidImage
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create, product_update


def picture(name: str = "lamp.png", image_format: str = "PNG", color: str = "red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{image_format.lower()}")


def sku() -> str:
    return f"IMG-{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_an_image_uploaded_with_the_form_is_stored_in_the_tenants_folder_and_shown(
    tenant: Any, tenant_client: Client, manager_client: Client, media_root: Path, tenant_path: Callable[..., str]
) -> None:
    code = sku()
    response = tenant_client.post(
        "/products/new/", {"name": "Lamp", "sku": code, "price": "5.00", "stock": "1", "image": picture()}
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        product = Product.objects.get(sku=code)
    name = str(product.image.name)

    edit = manager_client.get(f"/products/{product.pk}/edit/")  # editing: owners and admins
    served = tenant_client.get(f"/media/{name}")

    assert name.startswith("products/") and name.endswith(".png") and "lamp" not in name
    assert (media_root / "tenant_acme" / name).is_file()
    assert f'src="{tenant_path(f"/media/{name}")}"'.encode() in edit.content  # under the tenant's base path
    assert b'enctype="multipart/form-data"' in edit.content
    assert served.status_code == 200
    assert b"".join(served.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[arg-type]


def test_the_form_refuses_a_file_that_is_not_an_image(tenant: Any, tenant_client: Client, media_root: Path) -> None:
    code = sku()
    fake = SimpleUploadedFile("evil.png", b"<script>alert(1)</script>", content_type="image/png")

    response = tenant_client.post(
        "/products/new/", {"name": "Fake", "sku": code, "price": "1.00", "stock": "0", "image": fake}
    )

    assert response.status_code == 200
    assert b"&#x27;evil.png&#x27; is not an image; expected a PNG, JPEG, GIF or WebP picture." in response.content
    with tenant_context(tenant):
        assert not Product.objects.filter(sku=code).exists()
    assert not (media_root / "tenant_acme").exists()


def test_an_image_is_stored_with_the_extension_of_its_format_not_of_its_name(
    tenant: Any, tenant_client: Client, media_root: Path
) -> None:
    code = sku()
    response = tenant_client.post(
        "/products/new/",
        {"name": "Disguised", "sku": code, "price": "5.00", "stock": "1", "image": picture("photo.jpg", "PNG")},
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        product = Product.objects.get(sku=code)
        gif = product_create(name="Gif", sku=sku(), price="1.00", image=picture("anim.webp", "GIF"))
        no_suffix = product_create(name="Jpeg", sku=sku(), price="1.00", image=picture("scan", "JPEG"))

    assert str(product.image.name).endswith(".png"), product.image.name
    assert (media_root / "tenant_acme" / str(product.image.name)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(gif.image.name).endswith(".gif"), gif.image.name
    assert str(no_suffix.image.name).endswith(".jpg"), no_suffix.image.name


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (picture("photo.bmp", "BMP"), "is a BMP image"),
        (SimpleUploadedFile("notes.png", b"plain text"), "is not an image"),
        (SimpleUploadedFile("huge.png", b"\0" * (IMAGE_MAX_BYTES + 1)), "expected at most"),
    ],
)
def test_the_services_refuse_other_formats_non_images_and_files_over_5_mb(
    tenant: Any, media_root: Path, upload: SimpleUploadedFile, message: str
) -> None:
    code = sku()
    with pytest.raises(InvalidImage, match=message) as raised:
        product_create(name="Refused", sku=code, price="1.00", image=upload)

    assert repr(upload.name) in str(raised.value)
    assert not Product.objects.filter(sku=code).exists()


def test_replacing_or_clearing_an_image_deletes_the_old_file_once_committed(
    tenant: Any,
    manager_client: Client,
    media_root: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    product = product_create(name="Chair", sku=sku(), price="9.00", image=picture("one.png"))
    first = media_root / "tenant_acme" / str(product.image.name)

    with django_capture_on_commit_callbacks(execute=True):
        product = product_update(product_id=product.pk, image=picture("two.png", color="blue"))
    second = media_root / "tenant_acme" / str(product.image.name)
    assert not first.exists() and second.is_file()

    form = {"name": "Chair", "sku": product.sku, "price": "9.00", "stock": "0", "image-clear": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(f"/products/{product.pk}/edit/", form)
    assert response.status_code == 302
    with tenant_context(tenant):
        product.refresh_from_db()
    assert not product.image
    assert not second.exists()


def test_editing_without_a_new_upload_keeps_the_image(tenant: Any, manager_client: Client, media_root: Path) -> None:
    product = product_create(name="Desk", sku=sku(), price="30.00", image=picture())
    name = product.image.name

    response = manager_client.post(
        f"/products/{product.pk}/edit/", {"name": "Desk v2", "sku": product.sku, "price": "31.00", "stock": "0"}
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        product.refresh_from_db()
    assert (product.name, product.image.name) == ("Desk v2", name)


def test_the_catalogue_lists_active_products_with_their_images(
    tenant: Any, tenant_client: Client, media_root: Path, tenant_path: Callable[..., str]
) -> None:
    shown = product_create(name="Shown Lamp", sku=sku(), price="5.00", image=picture())
    product_create(name="Hidden Lamp", sku=sku(), price="5.00", active=False)

    response = tenant_client.get("/products/catalogue/")

    assert response.status_code == 200
    assert b"Shown Lamp" in response.content
    assert b"Hidden Lamp" not in response.content
    assert f'src="{tenant_path(f"/media/{shown.image.name}")}"'.encode() in response.content
    assert "private" in response["Cache-Control"]


def test_the_catalogue_is_served_from_the_cache_until_the_catalogue_changes(
    tenant: Any, tenant_client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    product = product_create(name="Cached Kettle", sku=sku(), price="20.00")
    assert b"Cached Kettle" in tenant_client.get("/products/catalogue/").content

    with tenant_context(tenant):
        Product.objects.filter(pk=product.pk).update(name="Renamed Quietly")  # no signal: the cache still holds
    assert b"Cached Kettle" in tenant_client.get("/products/catalogue/").content

    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        product_update(product_id=product.pk, name="Renamed Kettle")
    fresh = tenant_client.get("/products/catalogue/").content
    assert b"Renamed Kettle" in fresh
    assert b"Cached Kettle" not in fresh


def test_the_catalogue_cache_keeps_one_members_page_from_another(
    tenant: Any, client_for: Callable[..., Client], member_user: Any, owner_user: Any
) -> None:
    assert b"member@acme.localhost" in client_for(tenant, member_user).get("/products/catalogue/").content

    owner_page = client_for(tenant, owner_user).get("/products/catalogue/").content

    assert b"owner@acme.localhost" in owner_page
    assert b"member@acme.localhost" not in owner_page


def test_the_catalogue_is_for_members(
    tenant: Any, client_for: Callable[..., Client], login_redirect: Callable[..., str]
) -> None:
    response = client_for(tenant).get("/products/catalogue/")
    assert response.status_code == 302
    assert response["Location"] == login_redirect("/products/catalogue/")
