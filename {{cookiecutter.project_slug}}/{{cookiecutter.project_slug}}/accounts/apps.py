from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  # connects the login family receivers
