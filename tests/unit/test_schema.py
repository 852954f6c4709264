"""The canonical schema is a contract: exact names, types and version metadata."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from transforms.schema import CANONICAL_ARROW_SCHEMA, REJECTS_ARROW_SCHEMA, SCHEMA_METADATA_KEY, SCHEMA_VERSION, conform

# Transcribed from ../shared/design/ARCHITECTURE.md: changing a line here is a schema version bump.
ARCHITECTURE = {
    "event_time": pa.timestamp("us", tz="UTC"),
    "client_ip": pa.string(),
    "client_port": pa.int32(),
    "username": pa.string(),
    "http_method": pa.string(),
    "url": pa.string(),
    "url_scheme": pa.string(),
    "url_host": pa.string(),
    "url_path": pa.string(),
    "url_query": pa.string(),
    "server_ip": pa.string(),
    "server_port": pa.int32(),
    "http_version": pa.string(),
    "status_code": pa.int32(),
    "response_bytes": pa.int64(),
    "request_bytes": pa.int64(),
    "duration_ms": pa.int64(),
    "content_type": pa.string(),
    "user_agent": pa.string(),
    "referer": pa.string(),
    "proxy_action": pa.string(),
    "proxy_hierarchy": pa.string(),
    "proxy_host": pa.string(),
    "extra": pa.map_(pa.string(), pa.string()),
    "source": pa.string(),
    "source_format": pa.string(),
    "source_file_sha256": pa.string(),
    "source_line": pa.int64(),
}


def test_canonical_columns_and_types_match_the_architecture() -> None:
    assert {f.name: f.type for f in CANONICAL_ARROW_SCHEMA} == ARCHITECTURE
    assert CANONICAL_ARROW_SCHEMA.metadata[SCHEMA_METADATA_KEY] == SCHEMA_VERSION.encode()


def test_rejects_schema() -> None:
    assert REJECTS_ARROW_SCHEMA.names == ["source", "source_file_sha256", "source_line", "raw_line", "reason"]


def test_conform_fills_orders_and_types() -> None:
    frame = conform(pl.DataFrame({"status_code": ["200"], "client_ip": ["10.0.0.1"]}))
    assert frame.columns == list(ARCHITECTURE)
    assert frame["status_code"].dtype == pl.Int32 and frame["status_code"][0] == 200
    assert frame["event_time"][0] is None


def test_conform_refuses_unknown_columns() -> None:
    with pytest.raises(ValueError, match="not in the canonical schema"):
        conform(pl.DataFrame({"colour": ["red"]}))
