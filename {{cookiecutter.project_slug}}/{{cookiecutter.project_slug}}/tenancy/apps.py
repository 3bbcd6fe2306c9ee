from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
{%- if cookiecutter.use_celery == "y" %}

    def ready(self) -> None:
        # Celery workers cache tenants; tell them when tenants or domains change.
        from .celery_tenancy import connect_signals

        connect_signals()
{%- endif %}
