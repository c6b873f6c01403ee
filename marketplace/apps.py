from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace core"

    def ready(self) -> None:
        from marketplace import checks  # noqa: F401  (registers system checks)
