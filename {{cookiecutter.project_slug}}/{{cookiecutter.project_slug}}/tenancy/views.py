from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def landing(request: HttpRequest) -> HttpResponse:
    """Public landing page on the public host."""
    return render(request, "public/landing.html")
