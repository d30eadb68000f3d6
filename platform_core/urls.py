"""Account pages under /accounts/, the same on a tenant's host and on the
public host (each in its own schema): sign in and out, change, set and
reset the password."""

from django.conf import settings
from django.contrib.auth import urls as auth_urls
from django.contrib.auth import views as auth_views
from django.urls import path

from platform_core import views

# Sign in, sign out and change the password as Django routes them; the
# reset pages are routed below instead. (Both urlconfs route the sign-in
# itself to SignInView before these.)
urlpatterns = [pattern for pattern in auth_urls.urlpatterns if not pattern.name.startswith("password_reset")]

# Choosing a password from a link: the one in a reset mail, and the one-time
# sign-in link of a new tenant's first admin (create_tenant), which must
# work on a deployment that sends no mail.
urlpatterns += [
    # The signed-in person's language (docs/i18n.md).
    path("language/", views.language, name="account-language"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

# Asking for a reset mail: only where mail can be sent. Without it the form
# would thank everyone and deliver nothing; the sign-in page links to it only
# when it is routed (registration/login.html).
if settings.EMAIL_CONFIGURED:
    urlpatterns += [
        path("password_reset/", views.PasswordResetRequestView.as_view(), name="password_reset"),
        path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    ]
