"""OAuth providers, the OAuth 2.0 client, and the single-use connection states."""
