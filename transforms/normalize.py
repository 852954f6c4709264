"""Normalization shared by every parser: raw captured strings -> typed canonical columns.

A parser captures strings and names them by canonical column (plus the time parts
``_ts``, ``_tu`` and ``_time``). :func:`normalize_fields` turns them into typed columns
and a ``_reason`` column that names the first field that would not convert; a row
with a reason is a reject, never a silently nulled value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl
import pyarrow as pa

from transforms.schema import CANONICAL_COLUMNS, EXTRA_DTYPE

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


# One regex for every URL shape Squid logs, so each URL is scanned once:
#   1-5  absolute  scheme://host[:port]/path?query   (host may be [IPv6])
#   6-7  authority host:port or [IPv6]:port           (CONNECT)
#   8-9  origin    /path?query                        (intercepted or reverse-proxied)
_URL_REGEX = (
    r"^(?:([A-Za-z][A-Za-z0-9+.-]*)://(\[[^\]]*\]|[^/?#:]*)(?::(\d*))?([^?#]*)(?:\?([^#]*))?"
    r"|(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]\s]+):(\d+)$"
    r"|(/[^?#]*)(?:\?([^#]*))?)"
)
_EPOCH_REGEX = r"^(\d{1,12})(?:\.(\d{1,6}))?$"


def _field(struct: pl.Expr, group: int) -> pl.Expr:
    return struct.struct.field(str(group))


def url_parts(match: pl.Expr) -> dict[str, pl.Expr]:
    """Scheme, host, explicit port, path and query from a ``_URL_REGEX`` match struct."""
    return {
        "url_scheme": _field(match, 1).str.to_lowercase(),
        "url_host": null_if_dash(pl.coalesce(_field(match, 2), _field(match, 6)).str.strip_chars("[]")),
        "_url_port": null_if_dash(pl.coalesce(_field(match, 3), _field(match, 7))),
        "url_path": null_if_dash(pl.coalesce(_field(match, 4), _field(match, 8))),
        "url_query": null_if_dash(pl.coalesce(_field(match, 5), _field(match, 9))),
    }


def split_url(url: pl.Expr) -> dict[str, pl.Expr]:
    """Split a logged URL into scheme, host, port, path and query.

    Handles absolute URLs (``http://h:8080/p?q``), CONNECT authorities (``h:443``,
    ``[2001:db8::1]:443``), origin-form paths (``/p?q``) and Squid's ``error:...``
    pseudo-URLs (no host). IPv6 hosts lose their brackets.
    """
    return url_parts(url.str.extract_groups(_URL_REGEX))


def _default_port(scheme: pl.Expr) -> pl.Expr:
    ports = [pl.when(scheme == name).then(pl.lit(port, pl.Int32)) for name, port in DEFAULT_PORTS.items()]
    return pl.coalesce(ports)


def media_type(content_type: pl.Expr) -> pl.Expr:
    """``Text/HTML; charset=UTF-8`` -> ``text/html``."""
    return null_if_dash(content_type.str.splitn(";", 2).struct.field("field_0").str.strip_chars().str.to_lowercase())


def _time_columns(spec: TimeSpec, columns: set[str], tz: str | None, ambiguous: Ambiguous) -> tuple[dict[str, pl.Expr], pl.Expr, pl.Expr]:
    """Stage-2 columns to materialize, then the event time and its reject reason."""
    if spec.kind == "epoch":
        ts = pl.col("_ts")
        stage = {"_epoch": ts.str.extract_groups(_EPOCH_REGEX)}
        seconds = _field(pl.col("_epoch"), 1).cast(pl.Int64)
        fraction = _field(pl.col("_epoch"), 2)
        micros = pl.when(fraction.is_null()).then(0).otherwise(fraction.str.pad_end(6, "0").cast(pl.Int64))
        reason: pl.Expr = pl.when(seconds.is_null()).then(pl.format("bad epoch '{}'", ts.fill_null(""))).otherwise(None)
        if "_tu" in columns:
            tu = pl.col("_tu")
            tu_ms = tu.str.strip_chars(" ").cast(pl.Int64, strict=False)
            micros = micros + tu_ms.fill_null(0) * 1000
            bad_tu = pl.when(tu.is_not_null() & tu_ms.is_null()).then(pl.format("bad milliseconds '{}'", tu)).otherwise(None)
            reason = pl.coalesce(reason, bad_tu)
        event_time = pl.from_epoch(seconds * 1_000_000 + micros, time_unit="us").dt.replace_time_zone("UTC")
        return stage, event_time, reason

    text = pl.col("_time").str.strip_chars(" ")
    bad_text = pl.format("bad time '{}' for format '{}'", text.fill_null(""), pl.lit(spec.fmt))
    parsed = text.str.to_datetime(spec.fmt, time_unit="us", strict=False)
    if spec.has_offset:
        stage = {"_parsed": parsed.dt.convert_time_zone("UTC")}
        return stage, pl.col("_parsed"), pl.when(pl.col("_parsed").is_null()).then(bad_text).otherwise(None)
    zone = "UTC" if spec.utc else tz
    if zone is None:
        raise TimeZoneError("time has no UTC offset; give the source's zone with --tz")
    naive = pl.col("_parsed")
    # Ask for nulls on gaps and overlaps, then tell the two apart: a wall-clock time that
    # exists (earliest succeeds) but is not unique is ambiguous.
    earliest = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    local = naive.dt.replace_time_zone(zone, ambiguous="null" if ambiguous == "raise" else ambiguous, non_existent="null")
    reason = (
        pl.when(naive.is_null())
        .then(bad_text)
        .when(earliest.is_null())
        .then(pl.format("nonexistent local time '{}' in {}", text, pl.lit(zone)))
        .when(local.is_null())
        .then(pl.format("ambiguous local time '{}' in {}; choose --ambiguous earliest|latest", text, pl.lit(zone)))
        .otherwise(None)
    )
    return {"_parsed": parsed}, local.dt.convert_time_zone("UTC"), reason


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

    Runs in three stages so that each regex and cast is evaluated once per row:
    dashes to nulls, then regex matches and casts, then the final columns.
    """
    present = set(raw.columns)
    canonical = [c for c in raw.columns if c in CANONICAL_COLUMNS and c not in ("source_line", "extra")]
    stage1 = [null_if_dash(pl.col(c)).alias(c) for c in canonical]

    stage2, event_time, time_reason = _time_columns(time, present, tz, ambiguous)
    integers = [c for c in INTEGER_COLUMNS if c in present]
    for column in integers:
        stage2[f"_int_{column}"] = pl.col(column).str.strip_chars(" ").cast(CANONICAL_COLUMNS[column], strict=False)
    if "url" in present:
        stage2["_url"] = pl.col("url").str.extract_groups(_URL_REGEX)

    out: dict[str, pl.Expr] = {"event_time": event_time}
    reasons = [time_reason]
    for column in integers:
        value, typed = pl.col(column), pl.col(f"_int_{column}")
        limit = (typed > 65535) if column.endswith("_port") else pl.lit(False)
        bad = value.is_not_null() & (typed.is_null() | (typed < 0) | limit)
        out[column] = typed
        reasons.append(pl.when(bad).then(pl.format("bad {} '{}'", pl.lit(INTEGER_COLUMNS[column]), value)).otherwise(None))
    if "url" in present:
        parts = url_parts(pl.col("_url"))
        out.update({k: v for k, v in parts.items() if not k.startswith("_")})
        derived = pl.coalesce(parts["_url_port"].cast(pl.Int32, strict=False), _default_port(parts["url_scheme"]))
        out["server_port"] = pl.coalesce(out["server_port"], derived) if "server_port" in out else derived
        out["url"] = pl.col("url")
    if "http_method" in present:
        out["http_method"] = pl.col("http_method").str.to_uppercase()
    if "http_version" in present:
        out["http_version"] = pl.col("http_version").str.strip_prefix("HTTP/")
    if "content_type" in present:
        out["content_type"] = media_type(pl.col("content_type"))
    for column in ("client_ip", "server_ip"):
        if column in present:
            value = pl.col(column)
            out[column] = pl.when(value.str.contains(_IPV4) | value.str.contains(_IPV6)).then(value).otherwise(None)
    for column in ("username", "user_agent", "referer", "proxy_action", "proxy_hierarchy", "extra"):
        if column in present:
            out[column] = pl.col(column)

    return (
        raw.lazy()
        .with_columns(stage1)
        .with_columns(**stage2)
        .select(pl.col("source_line"), *[expr.alias(name) for name, expr in out.items()], pl.coalesce(reasons).alias("_reason"))
        .collect()
    )


def pack_extra(frame: pl.DataFrame, fields: Mapping[str, str]) -> pl.DataFrame:
    """Move the string columns ``fields`` (field name -> column) into one ``extra`` map.

    Values that are null, ``-`` or empty are left out; a row with none gets null. Built
    with Arrow offsets rather than per-row structs: polars builds lists of structs slowly.

    >>> frame = pl.DataFrame({"_a": ["1", "-"], "_b": [None, "x"], "keep": [1, 2]})
    >>> pack_extra(frame, {"x-a": "_a", "x-b": "_b"}).to_dicts()
    [{'keep': 1, 'extra': {'x-a': '1'}}, {'keep': 2, 'extra': {'x-b': 'x'}}]
    """
    if not fields:
        return frame.with_columns(pl.lit(None, EXTRA_DTYPE).alias("extra"))
    names, columns = list(fields), list(fields.values())
    flat = frame.select(pl.concat_list([null_if_dash(pl.col(c)) for c in columns]).alias("_v")).to_series().explode()
    present = flat.is_not_null()
    counts = present.reshape((frame.height, len(names))).arr.sum() if frame.height else pl.Series([], dtype=pl.UInt32)
    offsets = pl.concat([pl.Series([0], dtype=pl.Int32), counts.cum_sum().cast(pl.Int32)])
    positions = pl.Series(np.tile(np.arange(len(names), dtype=np.int32), frame.height)).filter(present)
    # polars -> Arrow conversions only: numpy -> Arrow would import pandas (seconds, once per process).
    dictionary = pl.Series(names, dtype=pl.String()).to_arrow().cast(pa.string())
    keys = pa.DictionaryArray.from_arrays(positions.to_arrow(), dictionary).dictionary_decode()
    values = flat.filter(present).to_arrow().cast(pa.string())
    entries = pa.MapArray.from_arrays(offsets.to_arrow(), keys, values, mask=(counts == 0).to_arrow())
    extra = pl.Series("extra", [], dtype=EXTRA_DTYPE) if frame.height == 0 else pl.from_arrow(entries).alias("extra").cast(EXTRA_DTYPE)  # type: ignore[union-attr]
    return frame.drop(columns).with_columns(extra)


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
