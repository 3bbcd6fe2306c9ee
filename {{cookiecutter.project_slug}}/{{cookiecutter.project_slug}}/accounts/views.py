from django.contrib.auth import views as auth_views

from .forms import TenantAuthenticationForm


class LoginView(auth_views.LoginView):
    """Email login on any host; on a tenant host, members of that tenant only."""

    authentication_form = TenantAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass
