from experts.views import credentials, dashboard, profile, qualification

app_name = "experts"

urlpatterns = [
    *dashboard.urlpatterns,
    *profile.urlpatterns,
    *credentials.urlpatterns,
    *qualification.urlpatterns,
]
