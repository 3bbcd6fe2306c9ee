from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.products"
    label = "products"
    verbose_name = "Products"

    def ready(self) -> None:
        # The cached catalogue page starts a new generation whenever the catalogue changes.
        from .catalogue import connect_signals

        connect_signals()
