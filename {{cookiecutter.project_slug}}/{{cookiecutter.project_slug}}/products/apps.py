from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.products"
    label = "products"
    verbose_name = "Products"
