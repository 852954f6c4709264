r"""NCSA common and combined log formats (``clf``, ``combined``), as Apache, nginx and Squid write them.

    %h %l %u %t "%r" %>s %b                                      (common, "clf")
    %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"       (combined)

e.g. ``10.0.0.1 - alice [10/Oct/2026:13:55:36 +0530] "GET http://www.example.com/a?b=c HTTP/1.1"
200 2326 "http://ref.example/" "Mozilla/5.0" TCP_MISS:HIER_DIRECT`` (one line).

Specs: Apache https://httpd.apache.org/docs/current/logs.html#common (and ``#combined``),
nginx's predefined ``log_format combined`` (``$remote_addr - $remote_user [$time_local]
"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"``,
https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format), and Squid's
``logformat common`` / ``combined`` (http://www.squid-cache.org/Doc/config/logformat/),
which append `` %Ss:%Sh`` (``TCP_MISS:HIER_DIRECT``): that trailer is optional here and
fills ``proxy_action`` / ``proxy_hierarchy``.

Choices:

- ``%t`` carries its UTC offset, so ``--tz`` is not needed (a given zone is checked, then unused).
- ``%h`` is ``client_ip`` only when it is an address (``HostnameLookups On`` logs names);
  ``%l`` (identd) is not archived; ``%u`` ``-`` or Apache's ``""`` (empty user) is null.
- The request line splits as ``METHOD SP TARGET [SP HTTP/x.y]``; ``"-"`` (Apache's 408
  timeouts) and ``""`` leave method, URL and version null and keep the row; anything else
  (TLS bytes sent to a plain port, spaces in the target) is a reject, the raw line kept.
  Origin-form targets (``/p?q``) are kept as logged, with no host.
- Quoted values: ``\"`` and ``\\`` are decoded, ``\xhh`` is kept as written. Apache writes
  ``\xhh`` for bytes that are not printable ASCII and nginx for ``"``, ``\``, control and
  non-ASCII bytes (its ``"`` is ``\x22``, which therefore stays ``\x22``): ``\xNN`` is also the
  reader's marker for a byte that was not UTF-8 (``infra.rawfile``), so the row shows the
  byte either way and nothing is guessed about the original encoding.
- User names: Squid's ``%[un`` is %-encoded (``DOMAIN%5Cjohn``), Apache's and nginx's are
  backslash-escaped. A line with Squid's trailer is decoded as Squid's, the others as the
  web servers'.
- ``%b`` ``-`` (Apache: no body) is null, like every ``-``.
- ``clf`` rejects a combined line and ``combined`` a common one, each with a reason that
  names the other format; a user name with a space (legal, rare) is a reject.

The whole line is one regex capture per field (:data:`CLF_FIELDS`); the request line is
split with a second regex. Python runs only on rare rows: escaped values and rejects.
"""

from __future__ import annotations

import re

import polars as pl

from transforms.normalize import TimeSpec, check_zone, decode_rows, normalize_fields, null_if_dash
from transforms.parsers.base import ParseResult, ParserOptions, split_rejects

FORMAT_NAME_CLF = "clf"
FORMAT_NAME_COMBINED = "combined"
TIME = TimeSpec("strftime", "%d/%b/%Y:%H:%M:%S %z")

_QUOTED = r'"(?P<{}>(?:[^"\\]|\\.)*)"'  # "value": \" and \\ inside, any other byte as is

#: (label in reject reasons, regex) per field of the common format; fields are separated by runs of spaces.
CLF_FIELDS: tuple[tuple[str, str], ...] = (
    ("%h", r"(?P<client_ip>\S+)"),  # remote host: address, or a name with HostnameLookups On
    ("%l", r"\S+"),  # identd user: '-' in practice, not archived
    ("%u", r"(?P<username>\S+)"),  # authenticated user
    ("[%t]", r"\[(?P<_time>[^\]]*)\]"),  # [10/Oct/2026:13:55:36 +0530]; the text is checked as a time later
    ('"%r"', _QUOTED.format("_request")),  # request line, split below
    ("%>s", r"(?P<status_code>\S+)"),  # final status
    ("%b", r"(?P<response_bytes>\S+)"),  # body bytes, '-' for none
)
#: The two quoted fields the combined format adds.
COMBINED_FIELDS: tuple[tuple[str, str], ...] = (
    ('"%{Referer}i"', _QUOTED.format("referer")),
    ('"%{User-Agent}i"', _QUOTED.format("user_agent")),
)
# Squid's optional %Ss:%Sh (TCP_MISS:HIER_DIRECT, NONE_NONE:HIER_NONE), then trailing spaces.
# Nested so that each space has one reading: the regex stays one-pass, ~3x faster than "(?: +X)? *$".
_END = r"(?: +(?:(?P<proxy_action>[A-Z][A-Z0-9_]*|-):(?P<proxy_hierarchy>[A-Z][A-Z0-9_]*|-) *)?)?$"
# METHOD SP TARGET [SP HTTP/x.y]; HTTP/0.9 requests have no version.
_REQUEST = r"^(?P<http_method>\S+) (?P<url>\S+)(?: (?P<http_version>HTTP/[0-9]+(?:\.[0-9]+)?))?$"
_REQUEST_HELP = 'expected "METHOD TARGET HTTP/x.y"'
_REFERER_UA = " ".join(label for label, _ in COMBINED_FIELDS)


def _line_regex(fields: tuple[tuple[str, str], ...]) -> str:
    return "^ *" + " +".join(regex for _, regex in fields) + _END


def _unterminated(text: str) -> bool:
    """``text`` starts a quoted value that never closes (a truncated line)."""
    return text.startswith('"') and re.match(r'"(?:[^"\\]|\\.)*"', text) is None


class ClfParser:
    """Parses the common (``combined=False``) or combined log format."""

    def __init__(self, options: ParserOptions, combined: bool) -> None:
        check_zone(options.tz)  # times carry their offset: a zone is accepted and unused
        self.combined = combined
        self.format_name = FORMAT_NAME_COMBINED if combined else FORMAT_NAME_CLF
        self._fields = CLF_FIELDS + COMBINED_FIELDS if combined else CLF_FIELDS
        self._pattern = _line_regex(self._fields)
        # Regex of the line up to and including field i, to say where a line stops fitting.
        self._prefixes = [
            (re.compile("^ *" + " +".join(regex for _, regex in self._fields[: i + 1])), label) for i, (label, _) in enumerate(self._fields)
        ]
        # The other format's whole-line regex, to name it when a line fits that one instead.
        self._other = re.compile(_line_regex(CLF_FIELDS if combined else CLF_FIELDS + COMBINED_FIELDS))

    @property
    def carried_columns(self) -> frozenset[str]:
        """Squid's ``%Ss:%Sh`` trailer is optional: proxy_action/hierarchy are not counted as carried."""
        columns = {
            "event_time",
            "client_ip",
            "username",
            "http_method",
            "url",
            "url_scheme",
            "url_host",
            "url_path",
            "url_query",
            "server_port",
            "http_version",
            "status_code",
            "response_bytes",
        }
        if self.combined:
            columns |= {"referer", "user_agent"}
        return frozenset(columns)

    def start_file(self) -> None:
        """Stateless: every line stands alone."""

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        captured = lines.select(pl.col("source_line"), pl.col("line").str.extract_groups(self._pattern).alias("_m")).unnest("_m")
        matched = captured["_time"].is_not_null()  # the time group always takes part in a match
        raw = self._decode(captured)
        request = raw["_request"].str.extract_groups(_REQUEST).struct.unnest()
        shape = (
            pl.when(pl.col("_request").is_not_null() & request["url"].is_null())
            .then(pl.format("bad request line '{}': {}", pl.col("_request").str.slice(0, 60), pl.lit(_REQUEST_HELP)))
            .otherwise(None)
        )
        staged = raw.with_columns(*request.get_columns(), _shape=shape).drop("_request")
        parsed = normalize_fields(staged.drop("_shape"), TIME)
        reasons = parsed.select(pl.coalesce(staged["_shape"], pl.col("_reason"))).to_series()
        if not bool(matched.all()):
            misfits = lines.filter(~matched)["line"].to_list()
            reasons = reasons.scatter((~matched).arg_true(), pl.Series([self.mismatch_reason(line) for line in misfits], dtype=pl.String))
        return split_rejects(parsed.with_columns(reasons.alias("_reason")), lines)

    def _decode(self, captured: pl.DataFrame) -> pl.DataFrame:
        """Undo each writer's escaping in the (rare) values that hold an escape."""
        squid = pl.col("proxy_action").is_not_null()
        user = pl.when(pl.col("username") == '""').then(None).otherwise(pl.col("username"))  # Apache's empty user
        raw = captured.with_columns(
            null_if_dash(pl.col("_request")).alias("_request"),
            pl.when(squid).then(user).alias("_user_squid"),
            pl.when(~squid).then(user).alias("_user_web"),
        )
        raw = decode_rows(raw, "_user_squid", "%", "percent")
        for column in ("_user_web", "_request", "referer", "user_agent"):
            raw = decode_rows(raw, column, "\\", "backslash")
        return raw.with_columns(pl.coalesce("_user_squid", "_user_web").alias("username")).drop("_user_squid", "_user_web")

    def mismatch_reason(self, line: str) -> str:
        """One specific reason for a line that does not fit the format at all.

        >>> ClfParser(ParserOptions(), combined=False).mismatch_reason('10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200')
        "line ends before '%b' (field 7 of 7)"
        """
        count = len(self._fields)
        if self._other.match(line):
            if self.combined:
                return f"no referer and user agent after '%b': expected '{_REFERER_UA}'; is this --format {FORMAT_NAME_CLF}?"
            last = self._prefixes[-1][0].match(line)
            tail = line[last.end() :] if last else line
            return f"unexpected text after the last field: '{tail.strip()[:60]}'; is this --format {FORMAT_NAME_COMBINED}?"
        matched_to = 0
        for number, (prefix, label) in enumerate(self._prefixes, start=1):
            found = prefix.match(line)
            if found is None:
                rest = line[matched_to:].lstrip(" ")
                if not rest:
                    return f"line ends before '{label}' (field {number} of {count})"
                if label.startswith('"') and _unterminated(rest):
                    return f"unterminated quote in '{label}' (field {number} of {count}), near '{rest[:40]}'; truncated line?"
                return f"line does not match the {self.format_name} format at '{label}' (field {number} of {count}), near '{rest[:40]}'"
            matched_to = found.end()
        return f"unexpected text after the last field: '{line[matched_to:].strip()[:60]}'"


def build_clf(options: ParserOptions) -> ClfParser:
    """Registry entry point for ``clf``."""
    return ClfParser(options, combined=False)


def build_combined(options: ParserOptions) -> ClfParser:
    """Registry entry point for ``combined``."""
    return ClfParser(options, combined=True)
