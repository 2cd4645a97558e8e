"""stripe-sync: the reference connector for tests/contracts/stripe_like.openapi.yaml."""

from stripe_sync.connector import AuthenticationError, PlatformError, StripeError, StripeSync

__all__ = ["AuthenticationError", "PlatformError", "StripeError", "StripeSync"]
