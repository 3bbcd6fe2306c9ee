from django.urls import path

from . import views

app_name = "products"

urlpatterns = [
    path("", views.product_list_view, name="list"),
    path("new/", views.product_create_view, name="create"),
    path("catalogue/", views.catalogue_view, name="catalogue"),
    path("<int:pk>/edit/", views.product_edit_view, name="edit"),
]
