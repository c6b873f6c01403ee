"""HTML views of the experts app, one module per area; each module exports ``urlpatterns``."""
