"""A reference connector for an offset-paged ticketing API (tests/contracts/ticketing_like)."""
