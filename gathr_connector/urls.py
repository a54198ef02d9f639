from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Gathr connector administration"
admin.site.site_title = "Gathr connector"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="connections:list", permanent=False), name="home"),
    path("connections/", include("connections.urls")),
    path("marketplace/", include("marketplace.urls")),
    path("audit/", include("audit.urls")),
    path("api/v1/", include("api.urls")),
    path("account/api-tokens/", include("api_tokens.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The OpenID Connect issuer's documents, relative to the root so that SITE_URL's path (a prefix) is theirs too.
    path("", include("federation.urls")),
]
