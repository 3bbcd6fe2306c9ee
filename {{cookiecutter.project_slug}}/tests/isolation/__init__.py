"""Attacks on tenant isolation: each test fails if one tenant can reach another's data (docs/security.md)."""
