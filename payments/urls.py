"""Every payments page and endpoint; each view module lists its own paths."""

from payments.views import appeals, billing, earnings, sandbox, staff, webhooks

app_name = "payments"
urlpatterns = [
    *billing.urlpatterns,
    *earnings.urlpatterns,
    *staff.urlpatterns,
    *webhooks.urlpatterns,
    *sandbox.urlpatterns,
    *appeals.urlpatterns,
]
