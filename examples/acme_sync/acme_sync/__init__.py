"""acme-sync: the reference connector for the Acme CRM platform."""

from acme_sync.connector import AcmeError, AcmeSync, AuthenticationError, PlatformError

__all__ = ["AcmeError", "AcmeSync", "AuthenticationError", "PlatformError"]
