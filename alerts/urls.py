from django.urls import path
from django.views.generic import RedirectView

from alerts import api, views

api_urlpatterns = [
    path("notifications", api.notifications, name="api-notifications"),
    path("notifications/read", api.mark_read, name="api-notifications-read"),
    path("notifications/seen", api.mark_seen, name="api-notifications-seen"),
    path("notifications/archive", api.archive, name="api-notifications-archive"),
    path("notifications/unarchive", api.unarchive, name="api-notifications-unarchive"),
    path("notifications/preferences", api.preferences, name="api-notification-preferences"),
    path("notifications/deliveries", api.deliveries, name="api-notification-deliveries"),
    path("manage/notification-kinds", api.notification_kinds, name="api-notification-kinds"),
    path("manage/notification-settings", api.notification_settings, name="api-notification-settings"),
    path("manage/deliveries/summary", api.delivery_summary, name="api-delivery-summary"),
    path("push/key", api.push_key, name="api-push-key"),
    path("push/devices", api.push_devices, name="api-push-devices"),
    path("announcements", api.announcements, name="api-announcements"),
    path("announcements/audience", api.announcement_audience, name="api-announcement-audience"),
]

page_urlpatterns = [
    path("sw.js", views.service_worker, name="service-worker"),
    path("notifications/", views.inbox, name="inbox"),
    path("notifications/preferences/", views.preferences, name="notification-preferences"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="email-unsubscribe"),
    path("manage/notifications/", views.notification_kinds, name="manage-notification-kinds"),
    path("manage/announcements/", views.announcements, name="announcements"),
    path("announcements/", RedirectView.as_view(pattern_name="announcements", permanent=False)),  # its old address
]
