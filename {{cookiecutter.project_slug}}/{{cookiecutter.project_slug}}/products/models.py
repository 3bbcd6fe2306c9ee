import re
import uuid
from pathlib import PurePath

from django.core.validators import MinValueValidator
from django.db import models

_SUFFIX_RE = re.compile(r"\.[a-z0-9]{1,5}")


def product_image_name(product: "Product", filename: str) -> str:
    """`products/<random hex><extension>`: names are not guessable and never overwrite each other.

    The default storage puts the file in the current tenant's media folder (tenancy/media.py).
    """
    suffix = PurePath(filename).suffix.lower()
    if not _SUFFIX_RE.fullmatch(suffix):
        suffix = ""
    return f"products/{uuid.uuid4().hex}{suffix}"


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """Something a tenant sells or lets customers book (a room, a court, a service)."""

    name = models.CharField(max_length=200)
    # Unique within the tenant: each tenant has its own schema, hence its own table and index.
    sku = models.CharField("SKU", max_length=32, unique=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    stock = models.PositiveIntegerField(default=0)
    # Set by services.low_stock_flag (a periodic task), so it may lag behind `stock` until its next run.
    low_stock = models.BooleanField(default=False)
    # Stored per tenant (MEDIA_ROOT/<schema>/products/), served to members on the tenant's host only.
    image = models.ImageField(upload_to=product_image_name, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "sku"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="products_product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"
