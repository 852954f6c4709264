"""Benchmarks for proxyvault (not part of the installed package; run from the repository root)."""
