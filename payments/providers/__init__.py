"""Payment providers: Stripe and the offline sandbox, behind one interface."""

from payments.providers.base import (
    CheckoutSession,
    ConnectedAccount,
    PaymentProvider,
    ProviderError,
    ProviderEventData,
    SignatureError,
    Transfer,
    provider,
)

__all__ = [
    "CheckoutSession",
    "ConnectedAccount",
    "PaymentProvider",
    "ProviderError",
    "ProviderEventData",
    "SignatureError",
    "Transfer",
    "provider",
]
