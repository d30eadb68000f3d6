from django.urls import path

from alerts import api, views

api_urlpatterns = [
    path("notifications", api.notifications, name="api-notifications"),
    path("notifications/read", api.mark_read, name="api-notifications-read"),
    path("notifications/preferences", api.preferences, name="api-notification-preferences"),
    path("announcements", api.announcements, name="api-announcements"),
]

page_urlpatterns = [
    path("notifications/", views.inbox, name="inbox"),
    path("announcements/", views.announcements, name="announcements"),
]
