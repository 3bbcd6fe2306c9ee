"""Bookings (tenant app): a customer books a product for a time slot, in the tenant's schema.

Shape: domain, repository, services. The rule that two confirmed bookings of one product never overlap
reads other rows, so it lives in `domain.py` (Slot.overlaps) and `services.py` checks it against a
`BookingRepository` inside the transaction it owns; unit tests run it on the in-memory fake, and one
contract test runs both implementations. One rule for the three tenant apps: a repository
(`repositories.py`, a Protocol with an ORM implementation and an in-memory fake) exists where a use case's
rule reads other rows and is worth testing without the database; elsewhere services.py and selectors.py
work on the ORM directly.
May import: `products` and `customers` (what is booked, by whom), `accounts`, `tenancy`, `errors`.
"""
