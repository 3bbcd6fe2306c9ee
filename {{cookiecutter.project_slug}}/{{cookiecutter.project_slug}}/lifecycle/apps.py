from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.lifecycle"
    label = "lifecycle"
    verbose_name = "Tenant lifecycle"

    def ready(self) -> None:
        # Receivers connect when the app registry is ready (Django's documented place for it).
        from . import receivers  # noqa: F401
