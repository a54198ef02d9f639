from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Connector Marketplace"

    def ready(self) -> None:
        from marketplace.entitlements import forget_shown_status
        from marketplace.models import Connector, Subscription, Trial

        for model in (Connector, Trial, Subscription):
            post_save.connect(forget_shown_status, sender=model, dispatch_uid=f"forget-shown-{model.__name__}")
            post_delete.connect(forget_shown_status, sender=model, dispatch_uid=f"forget-shown-{model.__name__}-del")
