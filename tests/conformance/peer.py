"""What a peer parser's test says about one raw record, in our canonical column terms.

A loader (``squid_peers.py``, ``proxy_peers.py``) reads one third-party test file from
the shared corpus (in place, never copied into this repository) and returns a
:class:`PeerSource`: how we parse its records and, per record, the value the peer
produced for each compared column, converted to our units and types (ns -> ms,
epoch-ms -> UTC instant, floats -> ints). ``None`` means the peer has no value for that
column (field absent or empty).

Column names are canonical columns, or ``extra:<key>`` for a key of our ``extra`` map
(fields a format carries beyond the canonical columns, under the vendor's own name).
A compared column missing from a record's ``expected`` is one the peer does not state for
that record (the source's ``not_compared`` says why); ``None`` is a stated null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from transforms.parsers import ParserOptions

Value = str | int | float | None

#: Prefix of a compared column that is a key of our ``extra`` map.
EXTRA_PREFIX = "extra:"


@dataclass(frozen=True)
class PeerCase:
    """One raw record and what a peer parser made of it, in canonical column terms.

    ``line`` is the record as the peer's test gives it; it may span several physical
    lines (a pretty-printed JSON event, a CSV record wrapped by hand), which a
    line-oriented archive reads as several lines.
    """

    case_id: str
    line: str
    expected: Mapping[str, Value]

    @property
    def physical_lines(self) -> int:
        return self.line.count("\n") + 1


@dataclass(frozen=True)
class PeerSource:
    """A peer's test file: how we parse its records and which columns are compared."""

    name: str
    description: str
    parser: str
    options: ParserOptions
    fields: tuple[str, ...]
    cases: tuple[PeerCase, ...]
    not_compared: Mapping[str, str] = field(default_factory=dict)


def instant(value: datetime) -> str:
    """A UTC instant at millisecond precision (truncated), the unit every peer shares."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_instant(text: str) -> str:
    """``2019-08-01T10:34:44.277000Z`` / ``2006-09-08T04:21:52.049Z`` -> millisecond instant."""
    return instant(datetime.fromisoformat(text.replace("Z", "+00:00")))


def epoch_ms_instant(ms: float) -> str:
    return instant(datetime.fromtimestamp(int(ms) / 1000, tz=UTC))


def get(doc: Mapping[str, Any], dotted: str) -> Any:
    """``get(doc, "source.ip")``; ``None`` when any part is missing or the value is ``""``."""
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return None if node == "" else node


def integral(value: Any, divisor: int = 1) -> Value:
    """A count or a duration as an int; left as a float when it is not whole (so it disagrees)."""
    if value is None:
        return None
    scaled = float(value) / divisor
    return int(scaled) if scaled.is_integer() else scaled


def text(value: Any) -> Value:
    return None if value is None else str(value)


def authority(host: Any, port: Any, path: Any = None) -> str | None:
    """The request target of a CONNECT (``host:port``) rebuilt from a peer's split fields."""
    if host is None or port is None:
        return None
    host = f"[{host}]" if ":" in str(host) else str(host)
    return f"{host}:{int(port)}{path or ''}"
