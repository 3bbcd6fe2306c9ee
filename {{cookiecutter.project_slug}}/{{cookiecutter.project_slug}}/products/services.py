"""Catalogue use cases: create and change products and categories, flag low stock, in the current tenant's schema."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from ..billing.domain import Limit
from ..billing.services import plan_limit_check
from ..tenancy.media import tenant_media_bytes
from .domain import (
    CATEGORY_NAME_MAX,
    IMAGE_EXTENSIONS,
    CategoryNotFound,
    DuplicateCategory,
    DuplicateSku,
    InvalidName,
    ProductNotFound,
    check_image,
    normalize_name,
    normalize_sku,
    parse_price,
    parse_stock,
)
from .models import Category, Product


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""Default of product_update's arguments: leave that field as it is."""


def category_create(*, name: str) -> Category:
    """Create a category named `name` (1-100 characters) and return it.

    Raises InvalidName, or DuplicateCategory when a category with that name exists (ignoring case).
    """
    name = normalize_name(name, max_length=CATEGORY_NAME_MAX, error=InvalidName)
    if Category.objects.filter(name__iexact=name).exists():
        raise DuplicateCategory(f"category {name!r} already exists; choose another name")
    try:
        with transaction.atomic():
            return Category.objects.create(name=name)
    except IntegrityError:
        raise DuplicateCategory(f"category {name!r} already exists; choose another name") from None


def category_update(*, category_id: int, name: str) -> Category:
    """Rename category `category_id` to `name` (1-100 characters) and return it.

    Raises CategoryNotFound, InvalidName, or DuplicateCategory when another category has that name (ignoring case).
    """
    category = _category(category_id)
    assert category is not None  # _category raises for an unknown id
    name = normalize_name(name, max_length=CATEGORY_NAME_MAX, error=InvalidName)
    if Category.objects.filter(name__iexact=name).exclude(pk=category.pk).exists():
        raise DuplicateCategory(f"category {name!r} already exists; choose another name")
    category.name = name
    try:
        with transaction.atomic():
            category.save(update_fields=["name"])
    except IntegrityError:
        raise DuplicateCategory(f"category {name!r} already exists; choose another name") from None
    return category


def _category(category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise CategoryNotFound(f"category {category_id!r} does not exist; expected the id of an existing category")
    return category


def _ensure_sku_free(sku: str, *, exclude_id: int | None = None) -> None:
    taken = Product.objects.filter(sku=sku)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise DuplicateSku(f"SKU {sku!r} is already used by another product; choose a unique SKU")


def _checked_image(image: File) -> File:
    """`image` after checking its size and content (domain.check_image), renamed to the extension of the format
    found in its content (a PNG uploaded as `x.jpg` is stored as `.png`); the read position is reset."""
    name = str(getattr(image, "name", "") or "image")
    try:
        image.seek(0)
        with Image.open(image) as picture:
            image_format = picture.format
            picture.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        image_format = None
    image.seek(0)
    check_image(name=Path(name).name, size=image.size, image_format=image_format)
    image.name = f"{Path(name).stem}{IMAGE_EXTENSIONS[str(image_format)]}"
    return image


def _storage_check(image: File, *, freed: int = 0) -> None:
    """Refuse storing `image` when the tenant's media folder would outgrow the plan's media storage (bytes in the
    folder now, less `freed` bytes of a file this change deletes, plus the image's size): PlanLimitReached.
    Runs inside the creating transaction, before the file is written: a refused image leaves no file."""
    plan_limit_check(Limit.STORAGE_MB, usage=lambda: max(0, tenant_media_bytes() - freed), adding=image.size or 0)


def _save(product: Product) -> Product:
    # The exists() check gives a readable error; the unique index settles a race between two writers.
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        raise DuplicateSku(f"SKU {product.sku!r} is already used by another product; choose a unique SKU") from None
    return product


def product_create(
    *,
    name: str,
    sku: str,
    price: Decimal | int | str,
    category_id: int | None = None,
    active: bool = True,
    stock: int = 0,
    image: File | None = None,
) -> Product:
    """Create a product and return it.

    `sku` is stored uppercased; `price` is a decimal amount >= 0 with at most two decimal places;
    `stock` is units on hand; `image` an uploaded picture, stored in the current tenant's media folder.
    Raises InvalidName, InvalidSku, InvalidPrice, InvalidStock, InvalidImage, CategoryNotFound,
    DuplicateSku when another product has the SKU, PlanLimitReached when the plan's product count or media
    storage (billing.domain.Limit) is reached, TenantReadOnly when the workspace's payment is overdue.
    Nothing is created then, no image file either.
    """
    product = Product(
        name=normalize_name(name),
        sku=normalize_sku(sku),
        price=parse_price(price),
        stock=parse_stock(stock),
        active=bool(active),
        category=_category(category_id),
    )
    if image is not None:
        product.image = _checked_image(image)  # type: ignore[assignment]  # stored by save()
    with transaction.atomic():
        # In the creating transaction: the tenant's subscription stays locked until it commits, so concurrent
        # creators count each other's products (billing.services.plan_limit_check).
        plan_limit_check(Limit.PRODUCTS, usage=Product.objects.count)
        if image is not None:
            _storage_check(image)
        _ensure_sku_free(product.sku)
        return _save(product)


def product_update(
    *,
    product_id: int,
    name: str | _Keep = KEEP,
    sku: str | _Keep = KEEP,
    price: Decimal | int | str | _Keep = KEEP,
    category_id: int | _Keep | None = KEEP,
    active: bool | _Keep = KEEP,
    stock: int | _Keep = KEEP,
    image: File | _Keep | None = KEEP,
) -> Product:
    """Change the given fields of product `product_id` (others stay as they are) and return it.

    `category_id=None` removes the category; `image=None` removes the image (a replaced or removed image's
    file is deleted once the change commits). A new image counts against the plan's media storage, less the
    image it replaces. Raises ProductNotFound, and the errors of product_create (nothing is changed then).
    """
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound(f"product {product_id!r} does not exist; expected the id of an existing product")
    if not isinstance(name, _Keep):
        product.name = normalize_name(name)
    if not isinstance(sku, _Keep):
        product.sku = normalize_sku(sku)
        _ensure_sku_free(product.sku, exclude_id=product.pk)
    if not isinstance(price, _Keep):
        product.price = parse_price(price)
    if not isinstance(category_id, _Keep):
        product.category = _category(category_id)
    if not isinstance(active, _Keep):
        product.active = bool(active)
    if not isinstance(stock, _Keep):
        product.stock = parse_stock(stock)
    replaced: Path | None = None
    checked: File | None = None
    if not isinstance(image, _Keep):
        checked = None if image is None else _checked_image(image)
        # Resolved now, while the connection is in this tenant's schema: the file is in its media folder.
        replaced = Path(product.image.path) if product.image else None
        product.image = checked or ""  # type: ignore[assignment]  # a new file is stored by save()
    with transaction.atomic():
        if checked is not None:
            _storage_check(checked, freed=_file_size(replaced))
        product = _save(product)
    if replaced is not None:
        old_file = replaced
        transaction.on_commit(lambda: old_file.unlink(missing_ok=True))
    return product


def _file_size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:  # already gone
        return 0


def low_stock_threshold() -> int:
    """settings.PRODUCTS_LOW_STOCK_THRESHOLD (units, default 5): an active product with less stock is low.

    Raises ImproperlyConfigured unless the setting is a whole number of 0 or more.
    """
    threshold = getattr(settings, "PRODUCTS_LOW_STOCK_THRESHOLD", 5)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ImproperlyConfigured(
            f"PRODUCTS_LOW_STOCK_THRESHOLD {threshold!r} is not valid; expected a whole number of 0 or more"
        )
    return threshold


def low_stock_flag() -> tuple[int, int]:
    """Bring every product's `low_stock` flag up to date; return (flagged, cleared).

    An active product with fewer than low_stock_threshold() units in stock is flagged; any other flagged
    product (restocked, or no longer active) is cleared. `flagged` and `cleared` count only the products
    whose flag this call changed. Two UPDATE statements in the current tenant's schema, in one
    transaction. Raises ImproperlyConfigured for a bad threshold setting.
    """
    threshold = low_stock_threshold()
    low = {"active": True, "stock__lt": threshold}
    with transaction.atomic():
        flagged = Product.objects.filter(low_stock=False, **low).update(low_stock=True)
        cleared = Product.objects.filter(low_stock=True).exclude(**low).update(low_stock=False)
    return flagged, cleared
