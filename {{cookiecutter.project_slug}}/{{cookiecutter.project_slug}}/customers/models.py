from django.db import models
from django.db.models.functions import Lower


class Customer(models.Model):
    """Someone who books the tenant's products. Emails are stored lowercase and unique per tenant."""

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=32, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            # Per tenant because the table lives in the tenant's schema; Lower() makes it case-insensitive
            # even for rows written without the services (raw SQL, data migrations).
            models.UniqueConstraint(Lower("email"), name="customers_customer_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
