"""Normalization shared by every parser: raw captured strings -> typed canonical columns.

A parser captures strings and names them by canonical column (plus the time parts
``_ts``, ``_tu`` and ``_time``). :func:`normalize_fields` turns them into typed columns
and a ``_reason`` column that names the first field that would not convert; a row
with a reason is a reject, never a silently nulled value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from transforms.schema import CANONICAL_COLUMNS

Ambiguous = Literal["raise", "earliest", "latest"]

#: Canonical integer columns and the name used in a reject reason.
INTEGER_COLUMNS: dict[str, str] = {
    "duration_ms": "duration",
    "status_code": "status",
    "response_bytes": "response size",
    "request_bytes": "request size",
    "client_port": "client port",
    "server_port": "server port",
}

#: Effective port of a URL scheme when the URL names none (RFC 3986 section 3.2.3).
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}

# A loose address check: enough to keep host names out of the *_ip columns.
_IPV4 = r"^\d{1,3}(?:\.\d{1,3}){3}$"
_IPV6 = r"^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:%\S+)?$"


class TimeZoneError(ValueError):
    """A local time needs a zone that was not given or does not exist."""


@dataclass(frozen=True)
class TimeSpec:
    """How a format writes its event time.

    ``kind`` is ``epoch`` (``_ts`` seconds, optional ``_tu`` milliseconds) or ``strftime``
    (``_time`` written with ``fmt``). ``utc`` says a strftime time without ``%z`` is
    already UTC (Squid's ``%tg``); otherwise such a time is local and needs ``tz``.
    """

    kind: Literal["epoch", "strftime"]
    fmt: str = ""
    utc: bool = False

    @property
    def has_offset(self) -> bool:
        return "%z" in self.fmt or "%:z" in self.fmt or "%#z" in self.fmt

    def needs_zone(self) -> bool:
        return self.kind == "strftime" and not self.has_offset and not self.utc


def check_zone(tz: str | None) -> str | None:
    """Return ``tz`` if it is a known IANA zone name, else raise with the fix."""
    if tz is None:
        return None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(f"unknown time zone '{tz}': use an IANA name such as 'Europe/Brussels' or 'UTC'") from None
    return tz


def null_if_dash(expr: pl.Expr) -> pl.Expr:
    """'-' and '' mean "no value" in every proxy format we read."""
    return pl.when(expr.is_in(["-", ""])).then(None).otherwise(expr)


def _epoch_time(raw: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """Event time from ``_ts`` ("1157689312" or "1157689312.049") and optional ``_tu`` (ms)."""
    ts = pl.col("_ts")
    parts = ts.str.extract_groups(r"^(\d{1,12})(?:\.(\d{1,6}))?$")
    seconds = parts.struct.field("1").cast(pl.Int64)
    fraction = parts.struct.field("2")
    micros = pl.when(fraction.is_null()).then(0).otherwise(fraction.str.pad_end(6, "0").cast(pl.Int64))
    bad_epoch = ts.is_null() | seconds.is_null()
    reason: pl.Expr = pl.when(bad_epoch).then(pl.format("bad epoch '{}'", ts.fill_null(""))).otherwise(None)
    if "_tu" in raw.columns:
        tu = pl.col("_tu")
        tu_ms = tu.str.strip_chars(" ").cast(pl.Int64, strict=False)
        micros = micros + tu_ms.fill_null(0) * 1000
        bad_tu = pl.when(tu.is_not_null() & tu_ms.is_null()).then(pl.format("bad milliseconds '{}'", tu)).otherwise(None)
        reason = pl.coalesce(reason, bad_tu)
    event_time = pl.from_epoch(seconds * 1_000_000 + micros, time_unit="us").dt.replace_time_zone("UTC")
    return event_time, reason


def _strftime_time(spec: TimeSpec, tz: str | None, ambiguous: Ambiguous) -> tuple[pl.Expr, pl.Expr]:
    text = pl.col("_time").str.strip_chars(" ")
    if spec.has_offset:
        parsed = text.str.to_datetime(spec.fmt, time_unit="us", strict=False).dt.convert_time_zone("UTC")
        bad = pl.when(parsed.is_null()).then(pl.format("bad time '{}' for format '{}'", text.fill_null(""), pl.lit(spec.fmt)))
        return parsed, bad.otherwise(None)
    naive = text.str.to_datetime(spec.fmt, time_unit="us", strict=False)
    zone = "UTC" if spec.utc else tz
    if zone is None:
        raise TimeZoneError("time has no UTC offset; give the source's zone with --tz")
    # Ask for nulls on gaps and overlaps, then tell the two apart by trying the other way:
    # a wall-clock time that exists (earliest succeeds) but is not unique is ambiguous.
    strict = naive.dt.replace_time_zone(zone, ambiguous="null", non_existent="null")
    earliest = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    local = strict if ambiguous == "raise" else naive.dt.replace_time_zone(zone, ambiguous=ambiguous, non_existent="null")
    reason = (
        pl.when(naive.is_null())
        .then(pl.format("bad time '{}' for format '{}'", text.fill_null(""), pl.lit(spec.fmt)))
        .when(earliest.is_null())
        .then(pl.format("nonexistent local time '{}' in {}", text, pl.lit(zone)))
        .when(local.is_null())
        .then(pl.format("ambiguous local time '{}' in {}; choose --ambiguous earliest|latest", text, pl.lit(zone)))
        .otherwise(None)
    )
    return local.dt.convert_time_zone("UTC"), reason


def split_url(url: pl.Expr) -> dict[str, pl.Expr]:
    """Split a logged URL into scheme, host, port, path and query.

    Handles absolute URLs (``http://h:8080/p?q``), CONNECT authorities (``h:443``,
    ``[2001:db8::1]:443``), origin-form paths (``/p?q``) and Squid's ``error:...``
    pseudo-URLs (no host). IPv6 hosts lose their brackets.
    """
    absolute = url.str.extract_groups(r"^([A-Za-z][A-Za-z0-9+.-]*)://(\[[^\]]*\]|[^/?#:]*)(?::(\d*))?([^?#]*)(?:\?([^#]*))?")
    authority = url.str.extract_groups(r"^(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]\s]+):(\d+)$")
    origin = url.str.extract_groups(r"^(/[^?#]*)(?:\?([^#]*))?")
    host = pl.coalesce(absolute.struct.field("2"), authority.struct.field("1")).str.strip_chars("[]")
    scheme = absolute.struct.field("1").str.to_lowercase()
    explicit_port = pl.coalesce(absolute.struct.field("3"), authority.struct.field("2"))
    path = pl.coalesce(absolute.struct.field("4"), origin.struct.field("1"))
    query = pl.coalesce(absolute.struct.field("5"), origin.struct.field("2"))
    return {
        "url_scheme": scheme,
        "url_host": null_if_dash(host),
        "_url_port": null_if_dash(explicit_port),
        "url_path": null_if_dash(path),
        "url_query": null_if_dash(query),
    }


def media_type(content_type: pl.Expr) -> pl.Expr:
    """``Text/HTML; charset=UTF-8`` -> ``text/html``."""
    return null_if_dash(content_type.str.extract(r"^\s*([^;\s]+)", 1).str.to_lowercase())


def normalize_fields(
    raw: pl.DataFrame,
    time: TimeSpec,
    tz: str | None = None,
    ambiguous: Ambiguous = "raise",
) -> pl.DataFrame:
    """Convert captured strings to canonical types.

    ``raw`` holds string columns named after canonical columns, the time parts
    (``_ts``/``_tu`` or ``_time``) and ``source_line``. Returns ``source_line``, the
    canonical data columns present, and ``_reason`` (null when the row is good).
    """
    present = set(raw.columns)
    text = {name: null_if_dash(pl.col(name)) for name in present if name in CANONICAL_COLUMNS}
    if time.kind == "epoch":
        event_time, time_reason = _epoch_time(raw)
    else:
        event_time, time_reason = _strftime_time(time, tz, ambiguous)
    out: dict[str, pl.Expr] = {"event_time": event_time}
    reasons = [time_reason]

    for column, label in INTEGER_COLUMNS.items():
        if column not in present:
            continue
        value = text[column].str.strip_chars(" ")
        typed = value.cast(CANONICAL_COLUMNS[column], strict=False)
        if column in ("client_port", "server_port"):
            bad = value.is_not_null() & (typed.is_null() | (typed < 0) | (typed > 65535))
        else:
            bad = value.is_not_null() & (typed.is_null() | (typed < 0))
        out[column] = typed
        reasons.append(pl.when(bad).then(pl.format("bad {} '{}'", pl.lit(label), pl.col(column))).otherwise(None))

    if "url" in present:
        url_parts = split_url(text["url"])
        out.update({k: v for k, v in url_parts.items() if not k.startswith("_")})
        url_port = url_parts["_url_port"].cast(pl.Int32, strict=False)
        default_port = url_parts["url_scheme"].replace_strict(DEFAULT_PORTS, default=None, return_dtype=pl.Int32)
        derived = pl.coalesce(url_port, default_port)
        out["server_port"] = pl.coalesce(out["server_port"], derived) if "server_port" in out else derived
        out["url"] = text["url"]
    if "http_method" in present:
        out["http_method"] = text["http_method"].str.to_uppercase()
    if "http_version" in present:
        out["http_version"] = text["http_version"].str.strip_prefix("HTTP/")
    if "content_type" in present:
        out["content_type"] = media_type(text["content_type"])
    for column in ("client_ip", "server_ip"):
        if column in present:
            value = text[column]
            out[column] = pl.when(value.str.contains(_IPV4) | value.str.contains(_IPV6)).then(value).otherwise(None)
    for column in ("username", "user_agent", "referer", "proxy_action", "proxy_hierarchy"):
        if column in present:
            out[column] = text[column]

    columns = [expr.alias(name) for name, expr in out.items()]
    reason = pl.coalesce(reasons).alias("_reason")
    return raw.select([pl.col("source_line"), *columns, reason])


def decode_rows(frame: pl.DataFrame, column: str, needs: str, decoder: str) -> pl.DataFrame:
    """Decode escaped values of ``column`` in the (rare) rows that contain ``needs``.

    ``decoder`` is ``backslash`` (Squid's quoted-string encoding) or ``percent``
    (Squid's ``[`` and ``#`` encodings, where ``%`` itself is encoded, so decoding is exact).
    """
    if column not in frame.columns:
        return frame
    mask = frame[column].str.contains(needs, literal=True).fill_null(False)
    if not mask.any():
        return frame
    decode = unescape_backslashes if decoder == "backslash" else unquote
    decoded = [decode(v) for v in frame.filter(mask)[column].to_list()]
    updated = frame[column].scatter(mask.arg_true(), pl.Series(decoded, dtype=pl.String))
    return frame.with_columns(updated.alias(column))


_BACKSLASH_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")


def unescape_backslashes(value: str) -> str:
    r"""Undo Squid's quoted-string encoding: ``\"`` ``\\`` ``\n`` ``\r`` ``\t``.

    ``\xNN`` is kept as written: Squid never writes it (it doubles every backslash), so it
    is the reader's marker for a byte that was not UTF-8 (see ``infra.rawfile``), and the
    row keeps the same marker whether the field was quoted or not.

    >>> unescape_backslashes(r'say \"hi\"\\n')
    'say "hi"\\n'
    >>> unescape_backslashes(r'caf\xe9 \\xe9')
    'caf\\xe9 \\xe9'
    """
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and value[i + 1 : i + 2] == "x" and len(value) >= i + 4 and value[i + 2] in _HEX and value[i + 3] in _HEX:
            out.append(value[i : i + 4])
            i += 4
        elif ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append(_BACKSLASH_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
