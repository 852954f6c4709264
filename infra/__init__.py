"""The edges: reading raw files, and (later) object stores, integrity and config."""
