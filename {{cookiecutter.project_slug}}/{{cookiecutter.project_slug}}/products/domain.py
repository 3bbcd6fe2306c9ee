"""Catalogue rules in plain Python: product names, SKUs, prices, stock and images.

Each error carries `field`, the input it refers to, so forms can show it next to that input.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..errors import Conflict, InvalidValue, NotFound

NAME_MAX = 200
CATEGORY_NAME_MAX = 100
SKU_MAX = 32
# Matches the model's DecimalField(max_digits=10, decimal_places=2).
PRICE_MAX = Decimal("99999999.99")
_SKU_RE = re.compile("^[A-Z0-9_-]+$")
# Product images: at most 5 MB, in a format every browser shows (names as Pillow reports them).
IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
# The extension an image is stored with: the format found in its content, never the uploaded name's.
IMAGE_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp"}


class InvalidName(InvalidValue):
    """A product or category name is empty or too long."""

    field = "name"


class InvalidSku(InvalidValue):
    """A SKU has characters outside A-Z, 0-9, '-' and '_', or is empty or too long."""

    field = "sku"


class InvalidPrice(InvalidValue):
    """A price is not a number, negative, too large or has more than two decimal places."""

    field = "price"


class InvalidStock(InvalidValue):
    """A stock level is not a whole number of zero or more."""

    field = "stock"


class InvalidImage(InvalidValue):
    """A product image is too large, or not a PNG, JPEG, GIF or WebP picture."""

    field = "image"


class DuplicateSku(Conflict):
    """Another product of this tenant already has the SKU."""

    field = "sku"


class DuplicateCategory(Conflict):
    """Another category of this tenant already has the name."""

    field = "name"


class ProductNotFound(NotFound):
    """No product with that id in the current tenant."""


class CategoryNotFound(NotFound):
    """No category with that id in the current tenant."""

    field = "category"


def normalize_name(name: object, *, max_length: int = NAME_MAX, error: type[InvalidValue] = InvalidName) -> str:
    """Return `name` with surrounding whitespace removed; raise `error` when empty or longer than `max_length`."""
    if not isinstance(name, str) or not name.strip():
        raise error(f"name {name!r} is empty; expected 1 to {max_length} characters")
    value = name.strip()
    if len(value) > max_length:
        raise error(f"name {value[:20]!r}... has {len(value)} characters; expected 1 to {max_length}")
    return value


def normalize_sku(sku: object) -> str:
    """Return `sku` stripped and uppercased (`ab-1` -> `AB-1`); raise InvalidSku unless it is 1-32 of A-Z 0-9 - _."""
    value = sku.strip().upper() if isinstance(sku, str) else sku
    if not isinstance(value, str) or len(value) > SKU_MAX or not _SKU_RE.match(value):
        raise InvalidSku(f"SKU {sku!r} is not valid; expected 1 to {SKU_MAX} of the characters A-Z, 0-9, '-' and '_'")
    return value


def parse_price(price: object) -> Decimal:
    """Return `price` (a Decimal, int or numeric string, in the tenant's currency) as a Decimal.

    Raises InvalidPrice unless it is between 0 and 99,999,999.99 with at most two decimal places.
    Floats are refused: binary fractions such as 0.1 cannot be stored exactly.
    """
    if isinstance(price, bool) or not isinstance(price, Decimal | int | str):
        raise InvalidPrice(f"price {price!r} is not a number; expected a decimal such as 19.90")
    try:
        value = Decimal(price.strip() if isinstance(price, str) else price)
    except InvalidOperation:
        raise InvalidPrice(f"price {price!r} is not a number; expected a decimal such as 19.90") from None
    if not value.is_finite():
        raise InvalidPrice(f"price {price!r} is not a number; expected a decimal such as 19.90")
    if value < 0 or value > PRICE_MAX:
        raise InvalidPrice(f"price {price} is out of range; expected 0 to {PRICE_MAX}")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidPrice(f"price {price} has more than two decimal places; expected e.g. 19.90")
    return value.quantize(Decimal("0.01"))


def parse_stock(stock: object) -> int:
    """Return `stock` (units on hand) as an int; raise InvalidStock unless it is a whole number >= 0."""
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
        raise InvalidStock(f"stock {stock!r} is not valid; expected a whole number of 0 or more")
    return stock


def check_image(*, name: str, size: int, image_format: str | None) -> None:
    """Raise InvalidImage unless the file `name` holds at most IMAGE_MAX_BYTES of an IMAGE_FORMATS picture.

    `image_format` is the format the image library recognised in the content (None: not an image).
    """
    if size > IMAGE_MAX_BYTES:
        raise InvalidImage(f"image {name!r} has {size} bytes; expected at most {IMAGE_MAX_BYTES} (5 MB)")
    if image_format not in IMAGE_FORMATS:
        found = f"a {image_format} image" if image_format else "not an image"
        raise InvalidImage(f"image {name!r} is {found}; expected a PNG, JPEG, GIF or WebP picture")
