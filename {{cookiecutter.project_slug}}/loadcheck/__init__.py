"""The load check: many tenants at once through a real gunicorn server, every answer from its own tenant's schema.

One command from the project root, `make benchmark-load` (`python -m loadcheck`); see loadcheck/__main__.py. It
creates and drops its own database, and exits 1 unless every response carried its own tenant's marker.
Comparisons with stock django-tenants live in the template's repository, not here.
"""
