"""Adapters to the world outside the graph: keys and tokens, password hashing, sessions in Redis."""
