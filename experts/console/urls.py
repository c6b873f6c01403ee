"""The staff vetting console, mounted at /staff/vetting/ (namespace "vetting")."""

from django.urls import path

from experts.console import views

app_name = "vetting"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.review, name="review"),
    path("<int:pk>/start/", views.start_review, name="start_review"),
    path("<int:pk>/release/", views.release_review, name="release_review"),
    path("<int:pk>/decide/", views.decide, name="decide"),
    path("tests/", views.test_list, name="tests"),
    path("tests/new/", views.test_create, name="test_create"),
    path("tests/<int:pk>/", views.test_detail, name="test_detail"),
    path("tests/<int:pk>/questions/<slug:kind>/", views.question_add, name="question_add"),
    path("grading/", views.grading, name="grading"),
    path("grading/<int:pk>/", views.grade, name="grade"),
]
