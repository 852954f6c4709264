"""The canonical proxy-event schema and the rejects schema: one definition, versioned.

Archives live for years, so a column is never renamed or retyped without bumping
``SCHEMA_VERSION`` and keeping a reader for the old version.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

SCHEMA_VERSION = "1"
SCHEMA_METADATA_KEY = b"proxyvault.schema_version"

#: Fields a format carries beyond the canonical columns (ELFF ``x-...`` fields, Zscaler
#: categories, ...), kept rather than dropped, under the format's own field names. Written
#: to Parquet as ``map<string, string>`` (DuckDB: ``extra['x-virus-id']``). Null when the
#: row has none.
EXTRA_DTYPE = pl.Map(pl.String(), pl.String())
EXTRA_ARROW_TYPE = pa.map_(pa.string(), pa.string())

#: Column name -> polars dtype, in the order they are written.
CANONICAL_COLUMNS: dict[str, pl.DataType] = {
    "event_time": pl.Datetime("us", "UTC"),
    "client_ip": pl.String(),
    "client_port": pl.Int32(),
    "username": pl.String(),
    "http_method": pl.String(),
    "url": pl.String(),
    "url_scheme": pl.String(),
    "url_host": pl.String(),
    "url_path": pl.String(),
    "url_query": pl.String(),
    "server_ip": pl.String(),
    "server_port": pl.Int32(),
    "http_version": pl.String(),
    "status_code": pl.Int32(),
    "response_bytes": pl.Int64(),
    "request_bytes": pl.Int64(),
    "duration_ms": pl.Int64(),
    "content_type": pl.String(),
    "user_agent": pl.String(),
    "referer": pl.String(),
    "proxy_action": pl.String(),
    "proxy_hierarchy": pl.String(),
    "proxy_host": pl.String(),
    "extra": EXTRA_DTYPE,
    "source": pl.String(),
    "source_format": pl.String(),
    "source_file_sha256": pl.String(),
    "source_line": pl.Int64(),
}

REJECT_COLUMNS: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_file_sha256": pl.String(),
    "source_line": pl.Int64(),
    "raw_line": pl.String(),
    "reason": pl.String(),
}

#: The required fields of ``design/MISSION.md`` (seed 001) as canonical columns, in its
#: order: what an incident responder needs from every request. Completeness is judged on these.
REQUIRED_FIELDS: tuple[str, ...] = (
    "event_time",
    "http_version",
    "http_method",
    "content_type",
    "user_agent",
    "referer",
    "response_bytes",
    "username",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "url_host",
    "url",
    "status_code",
    "duration_ms",
    "proxy_action",
)

#: Columns every parser must fill itself (the rest of the provenance is added by the caller).
PROVENANCE_COLUMNS = ("proxy_host", "source", "source_format", "source_file_sha256")

#: Canonical columns a parser may leave out when its format does not carry them.
DATA_COLUMNS = tuple(c for c in CANONICAL_COLUMNS if c not in PROVENANCE_COLUMNS and c != "source_line")


def _arrow_schema(columns: dict[str, pl.DataType]) -> pa.Schema:
    empty = pl.DataFrame(schema=columns).to_arrow()
    # polars exports strings as string_view/large_string depending on version; pin plain types
    # so that the Parquet files are the same whatever polars wrote them.
    fields = [pa.field(f.name, EXTRA_ARROW_TYPE if f.name == "extra" else _plain_arrow_type(f.type), nullable=True) for f in empty.schema]
    return pa.schema(fields, metadata={SCHEMA_METADATA_KEY: SCHEMA_VERSION.encode()})


def _plain_arrow_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    return t


CANONICAL_ARROW_SCHEMA = _arrow_schema(CANONICAL_COLUMNS)
REJECTS_ARROW_SCHEMA = _arrow_schema(REJECT_COLUMNS)


def conform(frame: pl.DataFrame, columns: dict[str, pl.DataType] = CANONICAL_COLUMNS) -> pl.DataFrame:
    """Return ``frame`` with exactly ``columns``, in order and typed; absent ones become null.

    >>> conform(pl.DataFrame({"client_ip": ["10.0.0.1"]})).width == len(CANONICAL_COLUMNS)
    True
    """
    unknown = set(frame.columns) - set(columns)
    if unknown:
        raise ValueError(f"columns not in the canonical schema: {sorted(unknown)}")
    return frame.select(
        [(pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name) for name, dtype in columns.items()]
    )


def to_arrow(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """Convert a conformed frame to an Arrow table carrying ``schema`` (and its version metadata).

    >>> frame = conform(pl.DataFrame({"extra": [{"x-virus-id": "EICAR"}, None]}, schema={"extra": EXTRA_DTYPE}))
    >>> to_arrow(frame, CANONICAL_ARROW_SCHEMA).column("extra").to_pylist()
    [[('x-virus-id', 'EICAR')], None]
    """
    return frame.to_arrow().cast(schema)
