"""WSGI entry point (gunicorn config.wsgi); production settings unless told otherwise."""

import os

from django.core.wsgi import get_wsgi_application

from config.devservices import environ_ensure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# Does nothing with the production settings (a missing URL fails there); gunicorn run with the local
# settings gets the embedded servers, as manage.py does.
environ_ensure()
application = get_wsgi_application()
