"""Zscaler Internet Access web logs, as an NSS (or Cloud NSS) feed writes them in JSON.

Field reference: Zscaler, "NSS Feed Output Format: Web Logs"
(https://help.zscaler.com/zia/nss-feed-output-format-web-logs) and "NSS Feed Output
Format" guidelines (https://help.zscaler.com/zia/nss-feed-output-format).

The feed's output is a template the admin writes, so this reads one JSON object per line,
either wrapped the way Zscaler's Splunk (HEC) template does it or bare:

    {"sourcetype":"zscalernss-web","event":{"time":"Mon Oct 16 22:55:48 2023","login":"jdoe%40example.com",...}}
    {"datetime":"2023-10-16 22:55:48","user":"jdoe@example.com","ClientIP":"10.1.2.3","url":"www.example.com/a",...}

Keys are NSS variable names (``time``, ``login``, ``proto``, ``eurl``, ``reqmethod``,
``respcode``, ``ua``, ``cip``, ...) or the names of Zscaler's Splunk add-on template that
other tools use (``datetime``, ``user``, ``protocol``, ``url``, ``requestmethod``,
``status``, ``useragent``, ``ClientIP``, ``serverip``, ...). For each canonical column the
first name present wins (:data:`ALIASES`); every other key, known or not, is kept in
``extra`` under its own name, the losing aliases included. A wrapped record whose
``sourcetype`` is not ``zscalernss-web`` (firewall, DNS, tunnel, audit, CASB feeds) is a
reject; a bare record is taken to be a web record.

Choices:

- Time: NSS times carry no offset; the zone is a setting of the feed (GMT by default). So
  ``--tz`` is required (``UTC`` for a GMT feed), at build time. ``Mon Oct 16 22:55:48
  2023`` and ``2023-10-16 22:55:48`` are read; the weekday is redundant and not checked.
  ``epochtime`` (epoch seconds, UTC), when the template has it, wins over both. Times in a
  DST gap or overlap are rejected unless ``--ambiguous`` says which.
- Placeholders: NSS writes ``None``, ``NA`` or ``N/A`` (and sometimes a lone space) for "no
  value"; those are null, in ``extra`` too. ``contenttype`` is a media type only when it
  has a ``/``; NSS writes ``Other`` for the rest, which is kept in ``extra``.
- %-decoding: NSS %-encodes bytes outside printable ASCII and the feed's escape characters
  in its "encoded" fields (``eua``, ``elogin``, ``elocation``, ...: ``Mozilla/5.0%20(Windows``,
  ``Road%20Warrior``), but never ``%`` itself. ``user_agent`` and ``username`` are decoded
  (multi-byte UTF-8 too; a byte that is not UTF-8 becomes ``\\xNN``, the reader's marker);
  control characters (``%00``-``%1F``, ``%7F``) stay encoded so a value never holds a line
  break. URLs and referers are kept as logged: %-escapes are part of URL syntax, and
  ``extra`` values are kept as logged.
- URL: ``eurl``/``url`` has no scheme (``www.example.com/join/?a=b``, ``www.example.com:443``
  for CONNECT). ``url`` is kept as logged; ``url_host``/``url_path``/``url_query`` are split
  from it, and ``url_scheme`` comes from ``proto``/``protocol`` where it names one: HTTP and
  HTTP_PROXY are ``http``, HTTPS is ``https``, FTP is ``ftp``. A CONNECT, and the SSL and
  TUNNEL protocols (an encrypted or opaque tunnel), have a host (and port) but no scheme.
  A ``b64url``/``b64referer`` is decoded when the template has no plain URL.
  ``server_port`` is ``srv_dport`` when logged, else the URL's port or the scheme's default.
- ``action`` is ``proxy_action``; ``respsize``/``responsesize`` is ``response_bytes`` and
  ``reqsize``/``requestsize`` ``request_bytes``: NSS's totals, headers included (its
  ``respheadersize`` and ``respdatasize`` add up to ``respsize``).
- Lines that are not one JSON object (a record pretty-printed over several lines, a
  truncated one) are rejects that quote the JSON decoder's message.

Speed: the chunk is decoded by pyarrow's JSON reader in one call (keys it reads as ISO
timestamps are read again as text, and remembered). A chunk it cannot read (a broken line,
a key written twice, a value that is a number in one line and a string in another) is read
again: the lines a strict one-object regex accepts by pyarrow, the rest one by one with
Python's ``json``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.json as pajson
from polars._typing import PolarsDataType

from transforms.normalize import TimeSpec, check_zone, normalize_fields, pack_extra
from transforms.parsers.base import FormatError, ParseResult, ParserOptions, split_rejects

FORMAT_NAME = "zscaler-nss"
WEB_SOURCETYPE = "zscalernss-web"

#: Canonical column (or time part) -> NSS key names, first present first.
ALIASES: dict[str, tuple[str, ...]] = {
    "_ts": ("epochtime",),
    "_time": ("time", "datetime"),
    "username": ("login", "elogin", "user"),
    "client_ip": ("cip", "ClientIP", "cltip"),
    "client_port": ("clt_sport", "cltsourceport"),
    "http_method": ("reqmethod", "requestmethod"),
    "url": ("eurl", "url", "b64url"),
    "server_ip": ("sip", "serverip"),
    "server_port": ("srv_dport",),
    "http_version": ("reqversion",),
    "status_code": ("respcode", "status"),
    "response_bytes": ("respsize", "responsesize"),
    "request_bytes": ("reqsize", "requestsize"),
    "content_type": ("contenttype",),
    "user_agent": ("ua", "eua", "useragent"),
    "referer": ("ereferer", "referer", "refererURL", "b64referer"),
    "proxy_action": ("action",),
}
#: Keys read for ``url_scheme`` and kept in ``extra`` as well (they say more than a scheme).
PROTO_KEYS = ("proto", "protocol")
BASE64_KEYS = frozenset({"b64url", "b64referer"})
PLACEHOLDERS = ("None", "NA", "N/A", "-", "", " ")

#: ``proto`` -> URL scheme; the others (SSL, TUNNEL, ...) name none.
SCHEMES = {"HTTP": "http", "HTTP_PROXY": "http", "HTTPS": "https", "FTP": "ftp"}
_NO_SCHEME = "x-nss-none"  # placeholder scheme so that a bare host[:port][/path] splits
KEY = "@"  # prefix of the record's keys among the frame's columns (a key may be any string)

TIME_FORMATS = {"ctime": "%b %d %H:%M:%S %Y", "iso": "%Y-%m-%d %H:%M:%S"}
CARRIED = frozenset(
    {c for c in ALIASES if not c.startswith("_")} | {"event_time", "url_scheme", "url_host", "url_path", "url_query", "extra"}
)

# A JSON string, scalar, flat object and one-object line: what pyarrow will surely read.
_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*"'
_SCALAR = rf"(?:{_STR}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)"
_FLAT = rf"\{{\s*(?:{_STR}\s*:\s*{_SCALAR}\s*(?:,\s*{_STR}\s*:\s*{_SCALAR}\s*)*)?\}}"
_VALUE = rf"(?:{_SCALAR}|{_FLAT})"
ONE_OBJECT = rf"^\s*\{{\s*(?:{_STR}\s*:\s*{_VALUE}\s*(?:,\s*{_STR}\s*:\s*{_VALUE}\s*)*)?\}}\s*$"


class ZscalerNssParser:
    """Parses NSS web-feed JSON records."""

    format_name = FORMAT_NAME

    def __init__(self, options: ParserOptions) -> None:
        tz = check_zone(options.tz)
        if tz is None:
            raise FormatError(
                "zscaler-nss times carry no UTC offset; give the NSS feed's time zone with --tz (UTC for the default GMT feed)"
            )
        self.tz: str = tz
        self.ambiguous = options.ambiguous
        self._json = JsonLines()

    @property
    def carried_columns(self) -> frozenset[str]:
        return CARRIED

    def start_file(self) -> None:
        """Every line stands alone (only the JSON reader's type hints carry over, for speed)."""

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        records = self._json.records(lines)
        staged = self._stage(records)
        results = [
            self._normalize(staged.filter(pl.col("_group") == group), group)
            for group in ("epoch", "ctime", "iso")
            if (staged["_group"] == group).any()
        ]
        parsed = results[0] if len(results) == 1 else pl.concat(results, how="diagonal_relaxed").sort("source_line")
        return split_rejects(parsed, lines)

    def _stage(self, records: pl.DataFrame) -> pl.DataFrame:
        """Canonical string columns, ``extra``, the URL to split and the time group."""
        keys = [c.removeprefix(KEY) for c in records.columns if c.startswith(KEY)]
        present = set(keys)
        blank = {k: _null_placeholders(pl.col(KEY + k)) for k in keys}
        for key in BASE64_KEYS & present:
            records = records.with_columns(_base64_decode(records[KEY + key]).alias(f"_decoded_{key}"))
        columns: dict[str, pl.Expr] = {}
        extra: dict[str, pl.Expr] = {}
        for column, names in ALIASES.items():
            candidates = [(n, pl.col(f"_decoded_{n}") if n in BASE64_KEYS else blank[n]) for n in names if n in present]
            if not candidates:
                continue
            columns[column] = pl.coalesce([value for _, value in candidates])
            for i, (name, value) in enumerate(candidates):
                if i:  # a losing alias is kept under its own name
                    earlier = pl.any_horizontal([v.is_not_null() for _, v in candidates[:i]])
                    extra[name] = pl.when(earlier).then(blank[name])
                elif name in BASE64_KEYS:  # kept when it did not decode
                    extra[name] = pl.when(value.is_null()).then(blank[name])
        if "_ts" in columns and "_time" in columns:  # epochtime wins: the time text is kept
            epoch = columns["_ts"].is_not_null()
            for name in (n for n in ALIASES["_time"] if n in present):
                extra[name] = pl.when(epoch).then(blank[name]).otherwise(extra.get(name, pl.lit(None, pl.String)))
        aliased = {n for names in ALIASES.values() for n in names}
        extra.update({k: blank[k] for k in keys if k not in aliased})
        if "contenttype" in present:  # NSS's "Other" is no media type: not content_type, but kept
            extra["contenttype"] = pl.when(~blank["contenttype"].str.contains("/", literal=True)).then(blank["contenttype"])
        proto = pl.coalesce([blank[k] for k in PROTO_KEYS if k in present]) if present & set(PROTO_KEYS) else pl.lit(None, pl.String)

        out = records.lazy().select(
            pl.col("source_line"),
            pl.col("_reason"),
            *[expr.alias(name) for name, expr in columns.items()],
            proto.str.to_uppercase().alias("_proto"),
            *[expr.alias(f"_x_{name}") for name, expr in extra.items()],
        )
        staged_names = out.collect_schema().names()
        if "_ts" not in staged_names:
            out = out.with_columns(pl.lit(None, pl.String).alias("_ts"))
        if "_time" not in staged_names:
            out = out.with_columns(pl.lit(None, pl.String).alias("_time"))
        if "content_type" in staged_names:
            out = out.with_columns(
                pl.when(pl.col("content_type").str.contains("/", literal=True)).then(pl.col("content_type")).alias("content_type")
            )
        if "url" in staged_names:
            out = out.with_columns(
                _split_form(pl.col("url"), pl.col("_proto"), pl.col("http_method") if "http_method" in staged_names else None)
            )
        no_time = pl.col("_ts").is_null() & pl.col("_time").is_null()
        out = out.with_columns(
            pl.when(pl.col("_ts").is_not_null())
            .then(pl.lit("epoch"))
            .when(pl.col("_time").str.contains(r"^\s*[A-Za-z]"))
            .then(pl.lit("ctime"))
            .otherwise(pl.lit("iso"))
            .alias("_group"),
            pl.coalesce(
                pl.col("_reason"),
                pl.when(no_time & pl.col("_reason").is_null()).then(pl.lit("no time: expected an epochtime, time or datetime field")),
            ).alias("_reason"),
            pl.col("_time").str.strip_chars().str.replace(r"^[A-Za-z]{3,9},? +([A-Za-z])", "$1").alias("_time"),
            pl.col("_time").str.strip_chars().alias("_time_text"),
        )
        staged = out.collect()
        staged = _unescape_column(staged, "user_agent")
        staged = _unescape_column(staged, "username")
        return pack_extra(staged, {name: f"_x_{name}" for name in extra})

    def _normalize(self, staged: pl.DataFrame, group: str) -> pl.DataFrame:
        spec = TimeSpec("epoch") if group == "epoch" else TimeSpec("strftime", TIME_FORMATS[group])
        drop = ["_time"] if group == "epoch" else ["_ts"]
        raw = staged.drop("_reason", "_group", "_proto", "_split", "_time_text", *drop, strict=False)
        if "url" in raw.columns:
            raw = raw.with_columns(staged["_split"].alias("url"))
        parsed = normalize_fields(raw, spec, tz=self.tz, ambiguous=self.ambiguous)
        if "url" in raw.columns:
            parsed = parsed.with_columns(
                staged["url"].alias("url"),
                pl.when(pl.col("url_scheme") != _NO_SCHEME).then(pl.col("url_scheme")).alias("url_scheme"),
            )
        if group == "ctime":  # a time reason quotes the time as logged, weekday included
            reason = pl.col("_reason")
            parts = reason.str.splitn("'", 3)
            quoted = pl.concat_str(
                parts.struct.field("field_0"), pl.lit("'"), staged["_time_text"], pl.lit("'"), parts.struct.field("field_2")
            )
            about_time = reason.str.contains(r"^(?:bad time|nonexistent local time|ambiguous local time) '")
            quoted = quoted.str.replace(TIME_FORMATS["ctime"], "%a " + TIME_FORMATS["ctime"], literal=True)
            parsed = parsed.with_columns(pl.when(about_time).then(quoted).otherwise(reason).alias("_reason"))
        return parsed.with_columns(pl.coalesce(staged["_reason"], pl.col("_reason")).alias("_reason"))


def _split_form(url: pl.Expr, proto: pl.Expr, method: pl.Expr | None) -> pl.Expr:
    """The logged URL with the scheme ``proto`` names, for ``normalize_fields`` to split."""
    scheme = proto.replace_strict(SCHEMES, default=None, return_dtype=pl.String)
    tunnel = pl.lit(False) if method is None else method.str.to_uppercase() == "CONNECT"
    return (
        pl.when(url.str.contains(r"^[A-Za-z][A-Za-z0-9+.-]*://"))
        .then(url)
        .when(scheme.is_not_null() & ~tunnel)
        .then(pl.concat_str(scheme, pl.lit("://"), url))
        .otherwise(pl.concat_str(pl.lit(_NO_SCHEME + "://"), url))
        .alias("_split")
    )


def _null_placeholders(value: pl.Expr) -> pl.Expr:
    return pl.when(value.is_in(PLACEHOLDERS)).then(None).otherwise(value)


# --- decoding JSON lines -----------------------------------------------------------------


class JsonLines:
    """Reads JSON lines into String columns (see :meth:`records`).

    pyarrow's reader turns strings that look like ISO 8601 dates into timestamps, which
    would lose their text; such keys are read again as strings, and remembered (``hint``)
    so that the next chunks are read as strings at once.
    """

    def __init__(self) -> None:
        self.hint: dict[str, set[str]] = {"": set(), "event": set()}

    def records(self, lines: pl.DataFrame) -> pl.DataFrame:
        """One row per line: ``source_line``, a ``_reason`` (structural rejects) and one String
        column per key of the record, named ``@key`` (for a wrapped record, the keys of its ``event``).

        >>> lines = ['{"sourcetype":"zscalernss-web","event":{"a":"1"}}', '{"a":2}', '{"a":"3"']
        >>> frame = pl.DataFrame({"source_line": [1, 2, 3], "line": lines})
        >>> JsonLines().records(frame).select("source_line", "@a", "_reason").rows()
        [(1, '1', None), (2, '2', None), (3, None, "invalid JSON (expected one object per line): Expecting ',' delimiter at column 9")]
        """
        text = lines["line"]
        table = self._read(text)
        if table is not None:
            return _flatten(lines["source_line"], table)
        # Something in the chunk is not for pyarrow: lines surely fine go to it, the rest to Python.
        simple = text.str.contains(ONE_OBJECT)
        parts = []
        if simple.any():
            table = self._read(text.filter(simple))
            if table is None:
                simple = pl.Series([False] * len(text), dtype=pl.Boolean)
            else:
                parts.append(_flatten(lines["source_line"].filter(simple), table))
        rest = lines.filter(~simple)
        if rest.height:
            parts.append(_python_records(rest["source_line"], rest["line"]))
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed").sort("source_line")

    def _read(self, text: pl.Series) -> pa.Table | None:
        """Read the lines with pyarrow; None when it cannot, or when a line held two objects."""
        data = _ndjson(text)
        while True:
            try:
                table = pajson.read_json(
                    pa.BufferReader(data),
                    read_options=pajson.ReadOptions(block_size=4 << 20),
                    parse_options=pajson.ParseOptions(explicit_schema=self._schema(), unexpected_field_behavior="infer"),
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
            if table.num_rows != len(text):
                return None
            dated = _timestamp_fields(table.schema)
            if not dated:
                return table
            for parent, name in dated:
                self.hint[parent].add(name)

    def _schema(self) -> pa.Schema | None:
        fields = [pa.field(name, pa.string()) for name in sorted(self.hint[""])]
        if self.hint["event"]:
            fields.append(pa.field("event", pa.struct([pa.field(name, pa.string()) for name in sorted(self.hint["event"])])))
        return pa.schema(fields) if fields else None


def _timestamp_fields(schema: pa.Schema) -> list[tuple[str, str]]:
    """(parent, name) of the timestamp fields pyarrow inferred, top level and in ``event``."""
    found = [("", field.name) for field in schema if pa.types.is_timestamp(field.type)]
    event = schema.field("event").type if "event" in schema.names else None
    if event is not None and pa.types.is_struct(event):
        found += [("event", event.field(i).name) for i in range(event.num_fields) if pa.types.is_timestamp(event.field(i).type)]
    return found


def _ndjson(text: pl.Series) -> pa.Buffer:
    """The lines, each ended by a newline, as one buffer (the Arrow data buffer, not a copy in Python)."""
    array = (text + "\n").to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    offsets = array.buffers()[1]
    assert offsets is not None
    bounds = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    return array.buffers()[2].slice(int(bounds[0]), int(bounds[-1] - bounds[0]))


def _flatten(source_line: pl.Series, table: pa.Table) -> pl.DataFrame:
    """pyarrow's table as String columns: an ``event`` object's fields, then the other
    top-level keys (``sourcetype`` is the wrapper's, not a field)."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    columns: dict[str, pl.Expr] = {}
    event = frame.schema.get("event")
    if isinstance(event, pl.Struct):
        for field in event.fields:
            columns[field.name] = _as_text(pl.col("event").struct.field(field.name), field.dtype, field.name)
    for name, dtype in frame.schema.items():
        if name == "sourcetype" or (name == "event" and isinstance(event, pl.Struct)):
            continue
        value = _as_text(pl.col(name), dtype, name)
        columns[name] = pl.coalesce(columns[name], value) if name in columns else value
    sourcetype = pl.col("sourcetype").cast(pl.String) if "sourcetype" in frame.columns else pl.lit(None, pl.String)
    return frame.select(
        pl.lit(source_line).alias("source_line"),
        _sourcetype_reason(sourcetype).alias("_reason"),
        *[expr.alias(KEY + name) for name, expr in columns.items()],
    )


def _as_text(value: pl.Expr, dtype: PolarsDataType, name: str) -> pl.Expr:
    """A JSON value as text: strings as they are, scalars as JSON writes them, the rest as JSON."""
    if dtype == pl.String:
        return value
    if dtype.is_nested():
        wrapped = pl.struct(value.alias(name)).struct.json_encode()
        return pl.when(value.is_not_null()).then(
            wrapped.str.slice(len(json.dumps(name)) + 2, wrapped.str.len_chars() - len(json.dumps(name)) - 3)
        )
    if dtype == pl.Boolean:
        return pl.when(value).then(pl.lit("true")).when(~value).then(pl.lit("false"))
    return value.cast(pl.String)


def _sourcetype_reason(sourcetype: pl.Expr) -> pl.Expr:
    return pl.when(sourcetype.is_not_null() & (sourcetype != WEB_SOURCETYPE)).then(
        pl.format("not a web-feed record (sourcetype {})", sourcetype)
    )


def _python_records(source_line: pl.Series, text: pl.Series) -> pl.DataFrame:
    """The lines pyarrow did not read, one by one: a record, or a reject with the reason."""
    rows: list[dict[str, Any]] = []
    for number, line in zip(source_line.to_list(), text.to_list(), strict=True):
        row: dict[str, Any] = {"source_line": number, "_reason": None}
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            row["_reason"] = f"invalid JSON (expected one object per line): {e.msg.removesuffix(' at')} at column {e.colno}"
        else:
            if not isinstance(value, dict):
                row["_reason"] = f"invalid record: expected a JSON object, got {type(value).__name__}"
            else:
                sourcetype = value.pop("sourcetype", None)
                event = value.pop("event") if isinstance(value.get("event"), dict) else {}
                if sourcetype is not None and sourcetype != WEB_SOURCETYPE:
                    row["_reason"] = f"not a web-feed record (sourcetype {_json_text(sourcetype)})"
                row |= {KEY + k: _json_text(v) for k, v in (value | event).items()}
        rows.append(row)
    schema = {"source_line": pl.Int64(), "_reason": pl.String()}
    schema |= {k: pl.String() for row in rows for k in row if k not in schema}
    return pl.DataFrame(rows, schema=schema)


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _base64_decode(values: pl.Series) -> pl.Series:
    """Decode base64 text; null when it is not base64 (bytes that are not UTF-8 become ``\\xNN``)."""
    decoded = values.str.decode("base64", strict=False)
    try:
        return decoded.cast(pl.String)
    except pl.exceptions.ComputeError:
        return pl.Series([_decode_one(v) for v in values.to_list()], dtype=pl.String)


def _decode_one(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="backslashreplace")
    except (binascii.Error, ValueError):
        return None


# --- %-decoding -------------------------------------------------------------------------

#: Every printable ASCII escape, in both spellings of its hex digits.
_PRINTABLE_ESCAPES = {f"%{code:02{case}}": chr(code) for code in range(0x20, 0x7F) for case in ("X", "x")}
_NON_ASCII_ESCAPE = r"%[89A-Fa-f][0-9A-Fa-f]"
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def unescape_nss(value: str) -> str:
    r"""Undo NSS's %-encoding: printable ASCII and UTF-8 sequences; control characters stay encoded.

    >>> unescape_nss("Mozilla/5.0%20(KHTML%2c%20like)%20%C3%9Cber%0A%e9")
    'Mozilla/5.0 (KHTML, like) Über%0A\\xe9'
    """
    return _ESCAPE_RUN.sub(lambda m: _decode_run(m.group()), value)


def _decode_run(run: str) -> str:
    out: list[str] = []
    pending = bytearray()
    for i in range(0, len(run), 3):
        code = int(run[i + 1 : i + 3], 16)
        if code < 0x20 or code == 0x7F:
            out.append(pending.decode("utf-8", errors="backslashreplace") + run[i : i + 3])
            pending.clear()
        else:
            pending.append(code)
    out.append(pending.decode("utf-8", errors="backslashreplace"))
    return "".join(out)


def _unescape_column(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Printable escapes vectorised; values with non-ASCII escapes (rare) one by one."""
    if column not in frame.columns:
        return frame
    values = frame[column]
    decoded = values.str.replace_many(_PRINTABLE_ESCAPES)
    slow = values.str.contains(_NON_ASCII_ESCAPE).fill_null(False)
    if slow.any():
        where = slow.arg_true()
        decoded = decoded.scatter(where, pl.Series([unescape_nss(v) for v in values.gather(where).to_list()], dtype=pl.String))
    return frame.with_columns(decoded.alias(column))


def build(options: ParserOptions) -> ZscalerNssParser:
    """Registry entry point."""
    return ZscalerNssParser(options)
