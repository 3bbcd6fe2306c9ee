#!/usr/bin/env python
"""Django's command-line utility; development settings unless DJANGO_SETTINGS_MODULE says otherwise."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from config.devservices import EmbeddedServiceError, environ_ensure

    try:
        # Local and test settings: embedded PostgreSQL/Redis for the URLs neither the environment nor .env sets.
        environ_ensure(sys.argv)
    except EmbeddedServiceError as exc:
        sys.exit(f"[devservices] {exc}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
