"""W3C Extended Log File Format (ELFF), as written by Symantec/BlueCoat ProxySG (and IIS).

Spec: https://www.w3.org/TR/WD-logfile.html. ProxySG field reference: Broadcom, "ProxySG
Log Fields and Substitutions" (techdocs.broadcom.com, SGOS access logging).

    #Software: SGOS 7.3.1.1
    #Version: 1.0
    #Date: 2026-10-10 13:55:36
    #Fields: date time time-taken c-ip sc-status s-action sc-bytes cs-bytes cs-method cs-uri-scheme cs-host ...
    2026-10-10 13:55:36 15 10.1.2.3 200 TCP_MISS 1234 567 GET http www.example.com ...

* The columns are those of the latest ``#Fields:`` directive. A file may declare new ones
  at any line (ProxySG does after a format change or a restart), also between chunks.
  Logs shipped without headers (syslog) get their field list from ``--logformat``, used
  until the file declares its own. A data line with no field list at all is a reject.
* Values are separated by runs of spaces or tabs; a value may be quoted, ``""`` inside
  quotes is one ``"``; ``-`` and empty are null. Field names are matched case-insensitively.
* Time: ``date time`` are GMT (W3C). A ``#Date:`` that states a zone other than GMT/UTC
  means the log is in local time: that needs ``--tz``, whose offset must agree with a
  numeric offset stated there. ``timestamp``/``x-timestamp-unix`` are epoch seconds (UTC);
  ``gmttime`` is ``[dd/mm/yyyy:hh:mm:ss GMT]``; ``localtime`` (``[dd/Mon/yyyy:hh:mm:ss
  +hhmm]``) uses its offset. Nothing is guessed: a local time without a zone is an error.
* A syslog header in front of a line (RFC 3164 ``<PRI>Mmm dd hh:mm:ss host tag:`` or RFC
  5424 ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD``) is removed; CRLF endings are fine.
* The URL: ``cs-uri`` when logged; otherwise it is composed from ``cs-uri-scheme``,
  ``cs-host``, ``cs-uri-port``, ``cs-uri-path`` (or IIS ``cs-uri-stem``) and
  ``cs-uri-query``: ``host:port`` for CONNECT and ProxySG's ``tcp``/``ssl`` tunnels (as
  Squid logs them), else ``scheme://host[:port]path?query`` with the port only when it is
  not the scheme's default. ``url_scheme`` keeps ProxySG's scheme for tunnels.
* Every field without a canonical column (``x-virus-id``, ``cs-categories``,
  ``sc-filter-result``, ``s-ip``, ...) is kept in ``extra`` under its ``#Fields`` name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from transforms.normalize import DEFAULT_PORTS, TimeSpec, TimeZoneError, check_zone, normalize_fields, null_if_dash, pack_extra
from transforms.parsers.base import FormatError, ParseResult, ParserOptions, empty_rejects, split_rejects

FORMAT_NAME = "elff"

#: A ProxySG ELFF field list that logs every required field (docs/formats.md): the
#: bcreportermain_v1 essentials plus the client port, HTTP version and the server's address.
RECOMMENDED_FIELDS = (
    "date time time-taken c-ip c-port cs-username cs-auth-group s-action sc-status cs-method cs-uri-scheme cs-host "
    "cs-uri-port cs-uri-path cs-uri-query cs-version rs(Content-Type) cs(User-Agent) cs(Referer) sc-bytes cs-bytes "
    "r-ip r-port s-ip x-exception-id sc-filter-result cs-categories x-virus-id"
)

#: Built-in field lists for logs shipped without ``#Fields:`` lines (``--logformat NAME``):
#: ``vault`` is the one above; ``bcreportermain_v1`` is ProxySG's default main format for
#: Reporter (Broadcom KB 168187; SGOS 6 added the two x-bluecoat-application fields).
PREDEFINED = {
    "vault": RECOMMENDED_FIELDS,
    "bcreportermain_v1": (
        "date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories cs(Referer) "
        "sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query "
        "cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id x-bluecoat-application-name "
        "x-bluecoat-application-operation"
    ),
}

#: ELFF field (lower case) -> canonical column, highest priority first per column.
DIRECT_FIELDS: dict[str, tuple[str, ...]] = {
    "client_ip": ("c-ip",),
    "client_port": ("c-port",),
    "username": ("cs-username", "cs-userdn", "cs-user"),
    "http_method": ("cs-method",),
    "http_version": ("cs-version",),
    "status_code": ("sc-status",),
    "response_bytes": ("sc-bytes",),
    "request_bytes": ("cs-bytes",),
    "duration_ms": ("time-taken",),
    "content_type": ("rs(content-type)", "sc(content-type)"),
    "user_agent": ("cs(user-agent)",),
    "referer": ("cs(referer)",),
    "proxy_action": ("s-action",),
    "proxy_hierarchy": ("s-hierarchy",),
    "server_ip": ("r-ip", "r-supplier-ip", "s-supplier-ip"),
    "server_port": ("r-port", "cs-uri-port"),
}
URL_FIELDS = ("cs-uri", "cs-uri-scheme", "cs-host", "cs-uri-port", "cs-uri-path", "cs-uri-stem", "cs-uri-query")
TIME_FIELDS = ("date", "time", "timestamp", "x-timestamp-unix", "gmttime", "localtime")
_URL_COLUMNS = ("url", "url_scheme", "url_host", "url_path", "url_query")
_TUNNEL_SCHEMES = ("tcp", "ssl")

# One value: quoted (a doubled quote inside is one quote), bracketed (ProxySG's
# ``[dd/Mon/yyyy:hh:mm:ss +hhmm]`` times hold a space), or a run of non-blanks.
_TOKEN = r'"(?:[^"]|"")*"|\[[^\]]*\]|[^\s"]\S*'

# A syslog header in front of the ELFF line, one alternative per RFC.
_SYSLOG_PREFIX = (
    r"^(?:"
    r"<\d{1,3}>\d{1,2} \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[[^\]]*\])+) "  # RFC 5424: <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD
    r"|(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+ "  # RFC 3164: [<PRI>]Mmm dd hh:mm:ss HOST
    r"(?:[^\s:\[#][^\s:\[]*(?:\[\d+\])?: )?"  # and an optional TAG[pid]: (not a "#Fields:")
    r")"
)

_UTC_NAMES = frozenset({"GMT", "UTC", "Z", "+0000", "-0000", "+00:00", "UT"})
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class FieldList:
    """One ``#Fields:`` declaration (or the ``--logformat`` default) and the time basis with it."""

    names: tuple[str, ...]
    declared_at: int | None  # source line of the directive; None for --logformat
    local_zone: str | None = None  # zone stated by #Date when the times are local

    @property
    def lowered(self) -> tuple[str, ...]:
        return tuple(n.lower() for n in self.names)

    def where(self) -> str:
        return f"#Fields at line {self.declared_at}" if self.declared_at is not None else "--logformat"


def parse_field_names(text: str) -> tuple[str, ...]:
    """``date time cs(User-Agent)`` -> the names; a built-in format name gives its list.

    >>> parse_field_names("date  time c-ip")
    ('date', 'time', 'c-ip')
    >>> len(parse_field_names("bcreportermain_v1"))
    27
    """
    names = tuple(PREDEFINED.get(text.strip(), text).split())
    if not names:
        raise FormatError("empty ELFF field list; give it as in a '#Fields:' line, e.g. --logformat 'date time c-ip ...'")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FormatError(f"ELFF field list names {duplicates} twice; each field may appear once")
    return names


def time_spec(fields: FieldList, tz: str | None) -> tuple[TimeSpec, str | None] | None:
    """How this field list dates a row, and the zone it needs; None when it has no time field."""
    names = set(fields.lowered)
    if {"date", "time"} <= names:
        if fields.local_zone is None:
            return TimeSpec("strftime", "%Y-%m-%d %H:%M:%S%.f", utc=True), None
        if tz is None:
            raise TimeZoneError(
                f"{fields.where()}: '#Date' states the zone '{fields.local_zone}', so date/time are local time; "
                "give the proxy's zone with --tz (e.g. --tz Europe/Brussels)"
            )
        return TimeSpec("strftime", "%Y-%m-%d %H:%M:%S%.f"), tz
    if "timestamp" in names or "x-timestamp-unix" in names:
        return TimeSpec("epoch"), None
    if "gmttime" in names:
        return TimeSpec("strftime", "[%d/%m/%Y:%H:%M:%S GMT]", utc=True), None
    if "localtime" in names:
        return TimeSpec("strftime", "[%d/%b/%Y:%H:%M:%S %z]"), None
    return None


def date_directive_zone(value: str, tz: str | None, line: int) -> str | None:
    """The zone a ``#Date:`` directive states, or None when it is GMT (the W3C default).

    A numeric offset is checked against ``tz`` at that moment, so a wrong ``--tz`` is an
    error, not a silent shift.

    >>> date_directive_zone("2026-10-10 13:55:36", None, 3) is None
    True
    >>> date_directive_zone("2026-07-01 10:00:00 +0200", "Europe/Brussels", 3)
    '+0200'
    """
    parts = value.split()
    if len(parts) < 3 or parts[2].upper() in _UTC_NAMES:
        return None
    stated = parts[2]
    match = _OFFSET.match(stated)
    if tz is not None and match:
        try:
            moment = datetime.fromisoformat(f"{parts[0]} {parts[1]}")
        except ValueError:
            return stated
        offset = moment.replace(tzinfo=ZoneInfo(tz)).utcoffset()
        sign, hours, minutes = match.groups()
        wanted = (int(hours) * 60 + int(minutes)) * (-1 if sign == "-" else 1)
        if offset is not None and int(offset.total_seconds() // 60) != wanted:
            raise TimeZoneError(
                f"line {line}: '#Date: {value}' states {stated}, but --tz {tz} is {_format_offset(offset.total_seconds())} then; "
                "give the proxy's zone"
            )
    return stated


def _format_offset(seconds: float) -> str:
    minutes = int(seconds // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


class ElffParser:
    """Parses ELFF lines; the field list comes from ``#Fields:`` directives (or ``--logformat``)."""

    format_name = FORMAT_NAME

    def __init__(self, options: ParserOptions) -> None:
        self.tz = check_zone(options.tz)
        self.ambiguous = options.ambiguous
        self._default = FieldList(parse_field_names(options.logformat), None) if options.logformat else None
        if self._default is not None and time_spec(self._default, self.tz) is None:
            raise FormatError("the ELFF field list has no time field; it needs 'date time', 'timestamp', 'gmttime' or 'localtime'")
        self._fields = self._default
        self._date_zone: str | None = None
        self._seen: set[str] = set()
        self._patterns: dict[tuple[str, ...], str] = {}

    @property
    def carried_columns(self) -> frozenset[str]:
        """Columns the field lists seen so far can fill (all mappable ones before any)."""
        if self._seen:
            names = self._seen
        elif self._default:
            names = set(self._default.lowered)
        else:
            names = {f for fs in DIRECT_FIELDS.values() for f in fs} | set(URL_FIELDS) | set(TIME_FIELDS)
        carried = {column for column, sources in DIRECT_FIELDS.items() if names & set(sources)}
        if names & set(URL_FIELDS):
            carried |= set(_URL_COLUMNS)
            carried.add("server_port")
        if names & set(TIME_FIELDS):
            carried.add("event_time")
        return frozenset(carried)

    def start_file(self) -> None:
        self._fields = self._default
        self._date_zone = None

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        text = lines["line"]
        if text.str.contains(r"^(?:<\d|[A-Z][a-z]{2} )").any():
            text = text.str.replace(_SYSLOG_PREFIX, "")
        directive = text.str.starts_with("#")
        segment = pl.Series("_segment", [0] * len(text), dtype=pl.Int32)
        field_lists: list[FieldList | None] = [self._fields]
        if directive.any():
            positions = directive.arg_true().to_list()
            numbers = lines["source_line"].gather(positions).to_list()
            texts = text.gather(positions).to_list()
            starts = []
            for position, number, line in zip(positions, numbers, texts, strict=True):
                if self._directive(line, number):
                    field_lists.append(self._fields)
                    starts.append(position)
            if starts:
                marks = pl.Series([0] * len(text), dtype=pl.Int32).scatter(starts, 1)
                segment = marks.cum_sum().alias("_segment")
        data = lines.with_columns(text.alias("_text"), segment).filter(~directive)
        results = [
            self._parse_segment(data.filter(pl.col("_segment") == index), fields)
            for index, fields in enumerate(field_lists)
            if (data["_segment"] == index).any()
        ]
        directives = int(directive.sum())
        if not results:
            return ParseResult(
                rows=pl.DataFrame({"source_line": []}, schema={"source_line": pl.Int64}), rejects=empty_rejects(), directives=directives
            )
        if len(results) == 1:
            return ParseResult(results[0].rows, results[0].rejects, directives)
        return ParseResult(
            rows=pl.concat([r.rows for r in results], how="diagonal_relaxed").sort("source_line"),
            rejects=pl.concat([r.rejects for r in results]).sort("source_line"),
            directives=directives,
        )

    def _directive(self, line: str, number: int) -> bool:
        """Apply one directive; True when it starts a new field list."""
        name, _, value = line[1:].partition(":")
        name = name.strip().lower()
        if name == "fields":
            self._fields = FieldList(parse_field_names(value), number, self._date_zone)
            self._seen |= set(self._fields.lowered)
            time_spec(self._fields, self.tz)  # a local time without --tz is an error now, not per row
            return True
        if name == "date":
            self._date_zone = date_directive_zone(value.strip(), self.tz, number)
            if self._fields is not None and self._fields.local_zone != self._date_zone:
                self._fields = FieldList(self._fields.names, self._fields.declared_at, self._date_zone)
                time_spec(self._fields, self.tz)
                return True
        return False  # #Software, #Version, #Remark, #Start-Date, ...: informational

    def _parse_segment(self, data: pl.DataFrame, fields: FieldList | None) -> ParseResult:
        lines = data.select("source_line", pl.col("line"))
        if fields is None:
            reason = 'no #Fields directive before this line; give the field list with --logformat "date time c-ip ..."'
            return ParseResult(rows=lines.select("source_line").clear(), rejects=_reject_all(lines, reason))
        spec = time_spec(fields, self.tz)
        if spec is None:
            reason = f"{fields.where()} has no time field (need 'date time', 'timestamp', 'gmttime' or 'localtime')"
            return ParseResult(rows=lines.select("source_line").clear(), rejects=_reject_all(lines, reason))
        time, zone = spec
        count = len(fields.names)
        # Only a '"' can be left out of the tokens (the last alternative takes anything
        # else), so an odd count of quotes is the one way to tokenize wrongly unnoticed.
        data = data.with_columns(pl.col("_text").str.extract_all(_TOKEN).alias("_tokens"))
        got = pl.col("_tokens").list.len()
        split = data.lazy().select(
            pl.col("source_line"),
            pl.col("_tokens").list.to_struct(fields=[str(i) for i in range(count)]).alias("_m"),
            pl.when(pl.col("_text").str.count_matches('"', literal=True) % 2 == 1)
            .then(pl.lit(f"unbalanced quotes: a quoted value is not closed (fields per {fields.where()})"))
            .when(got != count)
            .then(pl.format("expected {} fields ({}), got {}", pl.lit(count), pl.lit(fields.where()), got))
            .alias("_shape"),
        )
        values = {name: _unquote(pl.col("_m").struct.field(str(i))) for i, name in enumerate(fields.lowered)}
        original = dict(zip(fields.lowered, fields.names, strict=True))
        exprs, extra = _canonical_exprs(values, original, time)
        staged = split.select(pl.col("source_line"), pl.col("_shape"), *exprs).collect()
        raw = pack_extra(staged.drop("_shape"), extra)
        parsed = normalize_fields(raw, time, tz=zone, ambiguous=self.ambiguous)
        if "_scheme" in raw.columns:  # a tunnel's url has no scheme; ProxySG names one (tcp, ssl)
            parsed = parsed.with_columns(pl.coalesce(pl.col("url_scheme"), raw["_scheme"].str.to_lowercase()).alias("url_scheme"))
        parsed = parsed.with_columns(pl.coalesce(staged["_shape"], pl.col("_reason")).alias("_reason"))
        return split_rejects(parsed, lines)


def _reject_all(lines: pl.DataFrame, reason: str) -> pl.DataFrame:
    return lines.select("source_line", pl.col("line").alias("raw_line"), pl.lit(reason).alias("reason"))


def _unquote(value: pl.Expr) -> pl.Expr:
    inner = value.str.slice(1, value.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
    return pl.when(value.str.starts_with('"')).then(inner).otherwise(value)


def _first(values: Mapping[str, pl.Expr], names: tuple[str, ...]) -> pl.Expr | None:
    present = [null_if_dash(values[n]) for n in names if n in values]
    if not present:
        return None
    return present[0] if len(present) == 1 else pl.coalesce(present)


def _canonical_exprs(values: Mapping[str, pl.Expr], original: Mapping[str, str], time: TimeSpec) -> tuple[list[pl.Expr], dict[str, str]]:
    """Captured ELFF values -> canonical string columns, time parts and url; plus the
    columns (``_x0``, ...) of the other fields, by field name, for ``extra``."""
    out: list[pl.Expr] = []
    used: set[str] = set(URL_FIELDS)
    for column, sources in DIRECT_FIELDS.items():
        expr = _first(values, sources)
        if expr is not None:
            out.append(expr.alias(column))
            used.update(sources)
    if time.kind == "epoch":
        source = "timestamp" if "timestamp" in values else "x-timestamp-unix"
        out.append(values[source].alias("_ts"))
        used.add(source)
    elif {"date", "time"} <= set(values):
        out.append(pl.concat_str(values["date"], pl.lit(" "), values["time"]).alias("_time"))
        used.update(("date", "time"))
    else:
        source = "gmttime" if "gmttime" in values else "localtime"
        out.append(values[source].alias("_time"))
        used.add(source)
    url = _url(values)
    if url is not None:
        out.append(url.alias("url"))
        if "cs-uri-scheme" in values:
            out.append(null_if_dash(values["cs-uri-scheme"]).alias("_scheme"))
    others = [name for name in values if name not in used]
    out += [values[name].alias(f"_x{i}") for i, name in enumerate(others)]
    return out, {original[name]: f"_x{i}" for i, name in enumerate(others)}


def _url(values: Mapping[str, pl.Expr]) -> pl.Expr | None:
    """``cs-uri``, or the URL composed from its parts (see the module docstring)."""
    uri = _first(values, ("cs-uri",))
    host = _first(values, ("cs-host",))
    path = _first(values, ("cs-uri-path", "cs-uri-stem"))
    if host is None and path is None:
        return uri
    scheme = _first(values, ("cs-uri-scheme",))
    port = _first(values, ("cs-uri-port",))
    query = _first(values, ("cs-uri-query",))
    method = _first(values, ("cs-method",))
    lit_none = pl.lit(None, pl.String)
    scheme = (scheme if scheme is not None else lit_none).str.to_lowercase()
    port = port if port is not None else lit_none
    host = host if host is not None else lit_none
    path_text = (path if path is not None else lit_none).fill_null("")
    query_text = (
        pl.lit("")
        if query is None
        else pl.when(query.is_null()).then(pl.lit("")).otherwise(pl.concat_str(pl.lit("?"), query.str.strip_prefix("?")))
    )
    bracketed = (
        pl.when(host.str.contains(":", literal=True) & ~host.str.starts_with("["))
        .then(pl.concat_str(pl.lit("["), host, pl.lit("]")))
        .otherwise(host)
    )
    default = pl.coalesce([pl.when(scheme == name).then(pl.lit(str(number))) for name, number in DEFAULT_PORTS.items()])
    port_text = pl.when(port.is_null() | (port == default)).then(pl.lit("")).otherwise(pl.concat_str(pl.lit(":"), port))
    tunnel = scheme.is_in(_TUNNEL_SCHEMES) | ((method if method is not None else lit_none).str.to_uppercase() == "CONNECT")
    composed = (
        pl.when(host.is_null())
        .then(pl.concat_str(path_text, query_text))  # origin form (IIS, reverse proxy)
        .when(tunnel & port.is_not_null())
        .then(pl.concat_str(bracketed, pl.lit(":"), port))
        .when(scheme.is_null())
        .then(pl.concat_str(bracketed, port_text, path_text, query_text))
        .otherwise(pl.concat_str(scheme, pl.lit("://"), bracketed, port_text, path_text, query_text))
    )
    return composed if uri is None else pl.coalesce(uri, composed)


def build(options: ParserOptions) -> ElffParser:
    """Registry entry point."""
    return ElffParser(options)
