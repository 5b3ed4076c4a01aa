"""Benchmarks of the gateway against a raw-SQL baseline; see bench/README.md."""
