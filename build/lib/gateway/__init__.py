"""Process-level wiring: settings, database and Redis clients, embedded servers, the CLI."""
