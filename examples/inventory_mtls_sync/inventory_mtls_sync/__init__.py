"""A reference connector for a warehouse inventory API that authenticates with a TLS client
certificate (OpenAPI 3.1 `mutualTLS`, tests/contracts/inventory_mtls)."""
