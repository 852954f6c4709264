"""Squid access logs written with any ``logformat`` spec.

The parser is compiled from the spec's ``%`` codes, following squid.conf's grammar
(http://www.squid-cache.org/Doc/config/logformat/)::

    % [encoding] [-] [[0]width][.max] [{arg}] formatcode [{arg}]

Each code becomes one regex capture; literal text between codes must match as
written, except that runs of spaces match one or more spaces (``%6tr`` pads).
Codes we do not archive are still matched, so any spec parses. Squid's built-in
formats (``squid``, ``common``, ``combined``, ``referrer``, ``useragent``) are rows
of :data:`PREDEFINED`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from transforms.normalize import TimeSpec, check_zone, decode_rows, normalize_fields
from transforms.parsers.base import FormatError, ParseResult, ParserOptions, split_rejects

FORMAT_NAME = "squid-logformat"

#: Squid's built-in formats, exactly as squid.conf.documented (Squid 5/6) lists them.
PREDEFINED: dict[str, str] = {
    "squid": "%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt",
    "common": '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh',
    "combined": '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh',
    "referrer": "%ts.%03tu %>a %{Referer}>h %ru",
    "useragent": '%>a [%tl] "%{User-Agent}>h"',
}

#: A logformat that logs every field the mission requires (docs/formats.md explains it).
RECOMMENDED = '%ts.%03tu %6tr %>a %>p %Ss/%03>Hs %<st %>st %rm %ru %rv %[un %Sh/%<a %<p %mt "%{Referer}>h" "%{User-Agent}>h"'

#: Codes with values that never contain a space (matched as one token).
_TOKEN_CODES = frozenset(
    [
        "ts",
        "tu",
        "tr",
        "dt",
        "tS",
        "sn",
        "master_xaction",
        "err_code",
        ">a",
        ">A",
        ">p",
        ">eui",
        ">la",
        ">lp",
        "la",
        "lp",
        "<a",
        "<A",
        "<p",
        "<la",
        "<lp",
        ">qos",
        "<qos",
        ">nfmark",
        "<nfmark",
        "un",
        "ul",
        "ue",
        "ui",
        "us",
        "rm",
        ">rm",
        "<rm",
        "ru",
        ">ru",
        "<ru",
        ">rs",
        "<rs",
        ">rd",
        "<rd",
        ">rP",
        "<rP",
        "rp",
        ">rp",
        "<rp",
        "rv",
        ">rv",
        "<rv",
        "Hs",
        ">Hs",
        "<Hs",
        "st",
        ">st",
        "<st",
        ">sh",
        "<sh",
        "<sH",
        "<sS",
        "<bs",
        "<pt",
        "<tt",
        "Ss",
        "Sh",
        "icap::tt",
        "ssl::bump_mode",
        "ssl::>sni",
        "ssl::>negotiated_version",
        "ssl::<negotiated_version",
        "ssl::>received_hello_version",
        "ssl::<received_hello_version",
        "ssl::>received_supported_version",
        "ssl::<received_supported_version",
        "ssl::>negotiated_cipher",
        "ssl::<negotiated_cipher",
        "transport::>connection_id",
    ]
)

#: Codes whose values may contain spaces (headers, local times, annotations, certificates).
_TEXT_CODES = frozenset(
    [
        "tl",
        "tg",
        ">h",
        ">ha",
        "<h",
        "mt",
        "et",
        "ea",
        "note",
        "err_detail",
        "credentials",
        "adapt::<last_h",
        "adapt::sum_trs",
        "adapt::all_trs",
        "icap::<last_h",
        "proxy_protocol::>h",
        "ssl::>cert_subject",
        "ssl::>cert_issuer",
        "ssl::<cert_subject",
        "ssl::<cert_issuer",
        "ssl::<cert",
        "ssl::<cert_errors",
    ]
)

KNOWN_CODES = _TOKEN_CODES | _TEXT_CODES
# Longest first, so that ">Hs" wins over ">h" and "tS" is not read as "ts".
_CODES_LONGEST_FIRST = sorted(KNOWN_CODES, key=len, reverse=True)

#: Code -> (target column, priority): lower priority wins when a spec logs both.
_CODE_TARGETS: dict[str, tuple[str, int]] = {
    "ts": ("_ts", 0),
    "tu": ("_tu", 0),
    "tl": ("_time", 0),
    "tg": ("_time", 1),
    "tr": ("duration_ms", 0),
    ">a": ("client_ip", 0),
    ">p": ("client_port", 0),
    "<a": ("server_ip", 0),
    "<p": ("server_port", 0),
    "un": ("username", 0),
    "ul": ("username", 1),
    "ue": ("username", 2),
    "us": ("username", 3),
    "ui": ("username", 4),
    "rm": ("http_method", 0),
    ">rm": ("http_method", 1),
    "ru": ("url", 0),
    ">ru": ("url", 1),
    "rv": ("http_version", 0),
    ">rv": ("http_version", 1),
    ">Hs": ("status_code", 0),
    "Hs": ("status_code", 1),
    "<Hs": ("status_code", 2),
    "<st": ("response_bytes", 0),
    ">st": ("request_bytes", 0),
    "Ss": ("proxy_action", 0),
    "Sh": ("proxy_hierarchy", 0),
    "mt": ("content_type", 0),
}

#: Header codes: (code, lower-cased header name) -> (target column, priority).
_HEADER_TARGETS: dict[tuple[str, str], tuple[str, int]] = {
    (">h", "user-agent"): ("user_agent", 0),
    (">ha", "user-agent"): ("user_agent", 1),
    (">h", "referer"): ("referer", 0),
    (">ha", "referer"): ("referer", 1),
    ("<h", "content-type"): ("content_type", 1),
}

_QUOTED_VALUE = r'(?:[^"\\]|\\.)*'
_MEDIA_TYPE = r"[^\s;]*(?:;[ \t]*[^\s;]*)*"
_DEFAULT_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"

# strftime directive -> regex, for times written by %tl / %tg with a custom format.
_STRFTIME_REGEX = {
    "d": r"\d{2}",
    "e": r"[ \d]\d",
    "m": r"\d{2}",
    "b": r"[A-Za-z]{3}",
    "h": r"[A-Za-z]{3}",
    "B": r"[A-Za-z]+",
    "a": r"[A-Za-z]{3}",
    "A": r"[A-Za-z]+",
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "H": r"\d{2}",
    "I": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "p": r"[AaPp][Mm]",
    "j": r"\d{3}",
    "z": r"[+-]\d{2}:?\d{2}|Z",
    "Z": r"[A-Za-z][A-Za-z0-9+-]*",
    "F": r"\d{4}-\d{2}-\d{2}",
    "T": r"\d{2}:\d{2}:\d{2}",
    "s": r"\d+",
    "%": "%",
}


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Field:
    """One ``%`` code of a spec."""

    code: str
    arg: str | None = None
    encoding: str = ""  # one of '"', '[', '#', '/', "'", or '' (the code's default)
    left_aligned: bool = False
    width: int | None = None
    text: str = ""


@dataclass(frozen=True)
class CompiledFormat:
    """A spec compiled to a regex plus what each capture means."""

    spec: str
    items: tuple[Literal | Field, ...]
    pattern: str
    groups: tuple[tuple[str, int, str], ...]  # (target, priority, decoder) per capture
    time: TimeSpec
    carried_columns: frozenset[str] = field(default_factory=frozenset)
    #: (regex of the spec up to and including field i, that field's spec text): to say where a line breaks
    prefixes: tuple[tuple[str, str], ...] = ()
    #: True when no value can contain a space, so counting tokens is a fair diagnosis
    token_only: bool = False


_FIELD_RE = re.compile(
    r"""%
    (?P<encoding>["\[#/'])?          # output encoding
    (?P<left>-)?                     # left aligned
    (?P<width>\d+)?(?:\.\d+)?        # [0]width[.max]
    (?:\{(?P<arg1>[^}]*)\})?         # {arg} before the code
    """,
    re.VERBOSE,
)


def tokenize_spec(spec: str) -> tuple[Literal | Field, ...]:
    """Split a logformat spec into literals and fields.

    >>> tokenize_spec("%ts.%03tu %>a")  # doctest: +NORMALIZE_WHITESPACE
    (Field(code='ts', ...), Literal(text='.'), Field(code='tu', ..., width=3, ...),
     Literal(text=' '), Field(code='>a', ...))
    """
    items: list[Literal | Field] = []
    literal: list[str] = []
    i = 0
    while i < len(spec):
        if spec[i] != "%":
            literal.append(spec[i])
            i += 1
            continue
        if spec.startswith("%%", i):
            literal.append("%")
            i += 2
            continue
        head = _FIELD_RE.match(spec, i)
        assert head is not None  # the pattern matches "%" at least
        j = head.end()
        rest = spec[j:].removeprefix("http::")
        skipped = len(spec[j:]) - len(rest)
        code = next((c for c in _CODES_LONGEST_FIRST if rest.startswith(c)), None)
        if code is None:
            shown = spec[i : i + 12]
            raise FormatError(
                f"unknown logformat code at position {i + 1}: '{shown}'; "
                "use a %code from squid.conf's logformat documentation, or %% for a literal %"
            )
        j += skipped + len(code)
        arg = head.group("arg1")
        if arg is None and spec.startswith("{", j):
            end = spec.find("}", j)
            if end < 0:
                raise FormatError(f"unclosed '{{' at position {j + 1} of the logformat spec; close the argument with '}}'")
            arg = spec[j + 1 : end]
            j = end + 1
        if literal:
            items.append(Literal("".join(literal)))
            literal = []
        width = head.group("width")
        items.append(
            Field(
                code=code,
                arg=arg,
                encoding=head.group("encoding") or "",
                left_aligned=bool(head.group("left")),
                width=int(width) if width else None,
                text=spec[i:j],
            )
        )
        i = j
    if literal:
        items.append(Literal("".join(literal)))
    return tuple(items)


def _literal_regex(text: str) -> str:
    parts = re.split(r"( +)", text)
    return "".join(" +" if p.startswith(" ") and p.strip() == "" else re.escape(p) for p in parts if p)


def _strftime_regex(fmt: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            directive = fmt[i + 1]
            if directive not in _STRFTIME_REGEX:
                raise FormatError(f"time format '{fmt}' uses %{directive}, which proxyvault cannot read back; use %d/%b/%Y:%H:%M:%S %z")
            out.append(f"(?:{_STRFTIME_REGEX[directive]})")
            i += 2
        else:
            out.append(" +" if fmt[i] == " " else re.escape(fmt[i]))
            i += 1
    return "".join(out)


def _value_regex(item: Field, before: Literal | Field | None, after: Literal | Field | None) -> str:
    quoted = isinstance(before, Literal) and before.text.endswith('"') and isinstance(after, Literal) and after.text.startswith('"')
    bracketed = isinstance(before, Literal) and before.text.endswith("[") and isinstance(after, Literal) and after.text.startswith("]")
    if item.code in ("tl", "tg"):
        core = _strftime_regex(item.arg or _DEFAULT_TIME_FORMAT)
    elif quoted:
        core = _QUOTED_VALUE
    elif bracketed:
        core = r"[^\]]*"
    elif item.code in _TOKEN_CODES:
        core = r"\S*"
    elif item.code == "mt":
        core = _MEDIA_TYPE  # spaces only inside "; param=value" parts
    else:
        core = r".*?"
    pad = " *" if item.width else ""
    return f"{'' if item.left_aligned else pad}({core}){pad if item.left_aligned else ''}"


def _decoder(item: Field, quoted: bool) -> str:
    if item.encoding in ('"', "/") or quoted:
        return "backslash"
    if item.encoding in ("[", "#"):
        return "percent"
    return ""


def _target(item: Field) -> tuple[str, int] | None:
    if item.code in (">h", ">ha", "<h") and item.arg:
        return _HEADER_TARGETS.get((item.code, item.arg.split(":")[0].strip().lower()))
    return _CODE_TARGETS.get(item.code)


def compile_spec(spec: str) -> CompiledFormat:
    """Compile a logformat spec; raise :class:`FormatError` naming the fix if it cannot be read."""
    spec = spec.strip()
    if not spec:
        raise FormatError("empty logformat spec; give one such as --logformat '%ts.%03tu %6tr %>a ...'")
    items = tokenize_spec(spec)
    regex: list[str] = ["^ *"]
    groups: list[tuple[str, int, str]] = []
    prefixes: list[tuple[str, str]] = []
    time_fields = [i for i in items if isinstance(i, Field) and i.code in ("ts", "tl", "tg")]
    if not time_fields:
        raise FormatError("logformat spec has no time code; add %ts.%03tu (or %tl / %tg) so events have a time")
    # A spec that logs both %ts and %tl is timed by the first one; the other is matched only.
    first = time_fields[0]
    for index, item in enumerate(items):
        if isinstance(item, Literal):
            regex.append(_literal_regex(item.text))
            continue
        before = items[index - 1] if index else None
        after = items[index + 1] if index + 1 < len(items) else None
        regex.append(_value_regex(item, before, after))
        prefixes.append(("".join(regex), item.text))
        quoted = isinstance(before, Literal) and before.text.endswith('"')
        target, priority = _target(item) or (f"_unused{index}", 0)
        if (item in time_fields and item is not first) or (item.code == "tu" and first.code != "ts"):
            target, priority = f"_unused{index}", 0
        groups.append((target, priority, "" if target == "url" else _decoder(item, quoted)))
    regex.append(" *$")
    time = TimeSpec("epoch") if first.code == "ts" else TimeSpec("strftime", fmt=first.arg or _DEFAULT_TIME_FORMAT, utc=first.code == "tg")
    carried = frozenset(t for t, _, _ in groups if not t.startswith("_"))
    carried |= {"event_time"}
    if "url" in carried:
        carried |= {"url_scheme", "url_host", "url_path", "url_query", "server_port"}
    token_only = all(isinstance(i, Literal) or i.code in _TOKEN_CODES or i.code == "mt" for i in items) and not any(
        isinstance(i, Literal) and '"' in i.text for i in items
    )
    return CompiledFormat(
        spec=spec,
        items=items,
        pattern="".join(regex),
        groups=tuple(groups),
        time=time,
        carried_columns=frozenset(carried),
        prefixes=tuple(prefixes),
        token_only=token_only,
    )


def mismatch_reason(compiled: CompiledFormat, line: str) -> str:
    """Say where ``line`` stops fitting ``compiled``: the first field that does not match.

    >>> c = compile_spec("%ts %>a %rm")
    >>> mismatch_reason(c, "1790000000 10.0.0.1")
    'expected 3 fields, got 2'
    >>> print(mismatch_reason(compile_spec('%ts "%{User-Agent}>h" %rm'), "1790000000 curl GET"))
    line does not match the logformat at '%{User-Agent}>h' (field 2 of 3), near 'curl GET'
    """
    fields = len(compiled.prefixes)
    tokens, spec_tokens = len(line.split()), len(compiled.spec.split())
    if compiled.token_only and tokens != spec_tokens:
        return f"expected {spec_tokens} fields, got {tokens}"
    matched_to = 0
    for number, (prefix, label) in enumerate(compiled.prefixes, start=1):
        found = re.match(prefix, line)
        if found is None:
            return f"line does not match the logformat at '{label}' (field {number} of {fields}), near '{line[matched_to:].lstrip()[:40]}'"
        matched_to = found.end()
    return f"unexpected text after the last field: '{line[matched_to:][:40].strip()}'"


def logformat_from_squid_conf(conf_text: str, name: str) -> str:
    """Return the spec of ``logformat NAME ...`` in a squid.conf text (continuation lines joined).

    Built-in names resolve to :data:`PREDEFINED` unless the config redefines them.
    """
    joined = re.sub(r"\\\n", " ", conf_text)
    for line in joined.splitlines():
        words = line.strip().split(None, 2)
        if len(words) == 3 and words[0] == "logformat" and words[1] == name:
            return words[2].strip()
    if name in PREDEFINED:
        return PREDEFINED[name]
    raise FormatError(f"no 'logformat {name} ...' line in the squid.conf; check --logformat-name or use one of {sorted(PREDEFINED)}")


class SquidLogformatParser:
    """Parses lines written by Squid with one logformat spec."""

    format_name = FORMAT_NAME

    def __init__(self, spec: str, options: ParserOptions, format_name: str = FORMAT_NAME) -> None:
        self.format_name = format_name
        self.compiled = compile_spec(spec)
        self.tz = check_zone(options.tz)
        self.ambiguous = options.ambiguous
        if self.compiled.time.needs_zone() and self.tz is None:
            raise FormatError(
                f"logformat times ('{self.compiled.time.fmt}') carry no UTC offset; "
                "give the proxy's zone with --tz ZONE (e.g. --tz Europe/Brussels)"
            )

    @property
    def carried_columns(self) -> frozenset[str]:
        return self.compiled.carried_columns

    def start_file(self) -> None:
        """Stateless: every line stands alone."""

    def parse(self, lines: pl.DataFrame) -> ParseResult:
        captured = lines.select(
            pl.col("source_line"),
            pl.col("line").str.extract_groups(self.compiled.pattern).alias("_m"),
        )
        # compile_spec guarantees a time capture, so group 1 exists; it is null only when the line did not match
        matched = captured["_m"].struct.field("1").is_not_null()
        raw = self._raw_columns(captured)
        raw = self._decode(raw)
        parsed = normalize_fields(raw, self.compiled.time, tz=self.tz, ambiguous=self.ambiguous)
        if not bool(matched.all()):
            misfits = lines.filter(~matched)
            reasons = pl.Series([mismatch_reason(self.compiled, line) for line in misfits["line"].to_list()], dtype=pl.String)
            parsed = parsed.with_columns(parsed["_reason"].scatter((~matched).arg_true(), reasons))
        return split_rejects(parsed, lines)

    def _raw_columns(self, captured: pl.DataFrame) -> pl.DataFrame:
        by_target: dict[str, list[tuple[int, str]]] = {}
        for index, (target, priority, _) in enumerate(self.compiled.groups, start=1):
            by_target.setdefault(target, []).append((priority, str(index)))
        columns = [pl.col("source_line")]
        for target, options in by_target.items():
            if target.startswith("_unused"):
                continue
            ordered = [pl.col("_m").struct.field(g) for _, g in sorted(options)]
            # the first non-dash value in priority order
            cleaned = [pl.when(e.is_in(["-", ""])).then(None).otherwise(e) for e in ordered]
            columns.append((pl.coalesce(cleaned) if len(cleaned) > 1 else ordered[0]).alias(target))
        return captured.select(columns)

    def _decode(self, raw: pl.DataFrame) -> pl.DataFrame:
        decoders = {t: d for t, _, d in self.compiled.groups if d and not t.startswith("_")}
        for target, decoder in decoders.items():
            raw = decode_rows(raw, target, "\\" if decoder == "backslash" else "%", decoder)
        return raw


def build(options: ParserOptions) -> SquidLogformatParser:
    """Registry entry point: a parser for ``options.logformat`` (a spec, or a built-in format's name)."""
    if not options.logformat:
        raise FormatError("format squid-logformat needs a spec: --logformat 'SPEC' or --squid-conf FILE --logformat-name NAME")
    return SquidLogformatParser(PREDEFINED.get(options.logformat, options.logformat), options)
