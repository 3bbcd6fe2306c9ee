from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class TenancyConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        # app loading: these modules use the models, which are ready only now.
        from . import checks  # noqa: F401  # registers the system checks
        from .csrf import csrf_secrets_forget
        from .routing import connect_signals

        # Web processes cache the host -> tenant directory{% if cookiecutter.use_celery == "y" %} and Celery workers their tenants{% endif %}:
        # tell them when tenants or domains change (tenancy/routing.py).
        connect_signals()
        # A login drops every tenant's CSRF secret from the session (tenancy/csrf.py).
        user_logged_in.connect(csrf_secrets_forget, dispatch_uid="tenancy_csrf_secrets_forget")
