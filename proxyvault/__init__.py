"""proxyvault: rotate, normalize, validate and archive proxy logs for years."""

__version__ = "0.1.0"
