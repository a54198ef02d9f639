from django.urls import path

from marketplace import views

app_name = "marketplace"

urlpatterns = [
    path("", views.index, name="index"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("<slug:slug>/trial/", views.start_trial, name="start_trial"),
    path("<slug:slug>/subscribe/", views.subscribe, name="subscribe"),
    path("<slug:slug>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
    path("<slug:slug>/notify-users/", views.notify_users, name="notify_users"),
    path("<slug:slug>/request-access/", views.request_access, name="request_access"),
]
