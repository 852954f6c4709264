"""Deterministic synthetic proxy logs, in every supported format, for the demo and the benchmark.

Same seed, same bytes. Every kind writes the same events (one :func:`_record` per line,
drawn from one random stream), so line ``n`` of a ``squid`` sample and line ``n`` of an
``elff`` sample with the same seed are the same request, as each product would log it.

Lines cover what real logs hold: CONNECT tunnels, cache hits with ``NONE/-``, status
``000`` aborts, ``error:`` pseudo-URLs, IPv6 clients, runs of spaces from Squid's padding,
non-ASCII user agents and, on request (``damaged_every``), damaged lines that the format's
parser must reject: cut-short writes, a dropped column, a broken time, and so on.

Kinds (:data:`KINDS`) and the format each one is:

``squid``               Squid native ``access.log``
``squid-recommended``   Squid with :data:`RECOMMENDED` (``--format squid-logformat``)
``squid-local``         Squid with :data:`LOCAL_TIME_LOGFORMAT`: local times with their UTC offset (``%tl``);
                        not auto-detected, give ``--format squid-logformat --logformat`` with the spec
``clf``, ``combined``   NCSA common / combined, as Apache writes them (times in several UTC offsets)
``elff``                ProxySG W3C ELFF: ``#Software/#Version/#Date/#Fields`` header, then data lines
``umbrella-csv``        Cisco Umbrella proxy log, the 35-column version, every field double-quoted
``zscaler-nss``         Zscaler NSS web feed, Splunk (HEC) JSON template; times in GMT (``--tz UTC``)

:func:`generate_lines` writes ``count`` records 17 ms apart from a fixed instant (the benchmark's
input). :func:`generate_traffic` writes realistic traffic over a time span instead: a rate that
follows office hours and weekends in a zone (:data:`WEEKDAY_CURVE`, :data:`WEEKEND_CURVE`),
clients from a fixed population, and ``squid-local`` times in that zone.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from transforms.parsers.squid_logformat import RECOMMENDED

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

HOSTS = ["www.example.com", "api.github.com", "cdn.example.net", "login.example.org", "updates.vendor.test", "203.0.113.7"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.14.1",
    "python-requests/2.32.3",
    "Microsoft-CryptoAPI/10.0",
    "Übersetzer/1.0 (Kärnten) 日本語",
]
TYPES = ["text/html", "application/json", "image/png", "application/octet-stream", "text/css", "-"]
ACTIONS = [("TCP_MISS", "HIER_DIRECT"), ("TCP_HIT", "HIER_NONE"), ("TCP_TUNNEL", "HIER_DIRECT"), ("TCP_DENIED", "HIER_NONE")]
START_EPOCH = 1_790_000_000  # 2026-09-21T14:13:20Z
#: Category per host (Umbrella, ProxySG and Zscaler log one), derived, so no random draw.
CATEGORIES = {
    "www.example.com": "Search Engines",
    "api.github.com": "Software/Technology",
    "cdn.example.net": "Content Delivery Networks",
    "login.example.org": "Business Services",
    "updates.vendor.test": "Software Updates",
    "203.0.113.7": "Uncategorized",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: UTC offsets of the web servers writing ``clf``/``combined`` (the same instant, written locally).
CLF_OFFSETS = ("+0000", "+0200", "-0700", "+0530")
PROXY_IP = "192.0.2.10"  # the ProxySG's own address (s-ip)


def _record(rng: random.Random, i: int) -> dict[str, str]:
    method = rng.choice(["GET", "GET", "GET", "POST", "CONNECT", "PUT"])
    host = rng.choice(HOSTS)
    action, hier = rng.choice(ACTIONS)
    status = rng.choice(["200", "200", "304", "404", "407", "000"])
    client = f"10.{i % 7}.{i % 251}.{i % 200 + 1}" if i % 50 else f"2001:db8::{i % 4096:x}"
    if method == "CONNECT":
        url, action, ctype = f"{host}:443", "TCP_TUNNEL", "-"
    elif i % 997 == 0:
        url, method, status, hier = "error:transaction-end-before-headers", "NONE", "000", "HIER_NONE"
        ctype = "-"
    else:
        url = f"http://{host}/p/{i % 1013}/item.js?id={i}&q=a%20b"
        ctype = rng.choice(TYPES)
    server = "-" if hier == "HIER_NONE" else f"198.51.100.{i % 254 + 1}"
    return {
        "seq": str(i),
        "host": host,
        "ts": f"{START_EPOCH + i * 0.017:.3f}",
        "tr": str(rng.randint(0, 99_999)),
        "client": client,
        "client_port": str(1024 + i % 60_000),
        "action": action,
        "status": status,
        "size": str(rng.randint(0, 2_000_000)),
        "req_size": str(rng.randint(80, 9_000)),
        "method": method,
        "url": url,
        "version": "1.1" if i % 40 else "1.0",
        "user": rng.choice(["-", "alice", "bob", "svc-backup"]),
        "hier": hier,
        "server": server,
        "server_port": "-" if server == "-" else ("443" if method == "CONNECT" else "80"),
        "ctype": ctype,
        "referer": rng.choice(["-", "http://www.example.com/", "https://intranet.example/"]),
        "agent": rng.choice(AGENTS),
    }


# --- helpers shared by the writers --------------------------------------------------------


def _utc(r: dict[str, str]) -> datetime:
    """The event's time, whole seconds (what every non-Squid format logs)."""
    return datetime.fromtimestamp(int(r["ts"].split(".", 1)[0]), UTC)


def _iso(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def _url_parts(url: str) -> tuple[str, str, str, str, str]:
    """(scheme, host, port, path, query) of the sample's URLs: absolute http, CONNECT ``host:443``, ``error:...``."""
    if url.startswith("error:"):
        return "", "", "", "", ""
    if "://" not in url:
        host, _, port = url.rpartition(":")
        return "", host, port, "", ""
    scheme, rest = url.split("://", 1)
    host, slash, target = rest.partition("/")
    path, _, query = (slash + target).partition("?")
    return scheme, host, "80" if scheme == "http" else "443", path, query


def _blocked(r: dict[str, str]) -> bool:
    return r["action"] == "TCP_DENIED"


def _apache_escape(value: str) -> str:
    r"""Apache's escaping of quoted values: ``"`` and ``\`` with a backslash, bytes outside printable ASCII as ``\xhh``."""
    out: list[str] = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
    return "".join(out)


def _nss_escape(value: str) -> str:
    """NSS's encoded fields (``eua``, ``elogin``): bytes outside printable ASCII, space, ``"`` and ``\\`` as ``%XX``."""
    out: list[str] = []
    for ch in value:
        if "!" <= ch <= "~" and ch not in '"\\':
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


# --- Squid ----------------------------------------------------------------------------------


def squid_native_line(r: dict[str, str]) -> str:
    return (
        f"{r['ts']} {r['tr']:>6} {r['client']} {r['action']}/{r['status']} {r['size']} {r['method']} {r['url']}"
        f" {r['user']} {r['hier']}/{r['server']} {r['ctype']}"
    )


def squid_recommended_line(r: dict[str, str]) -> str:
    """A line as Squid writes it with :data:`RECOMMENDED` (every required field)."""
    return (
        f"{r['ts']} {r['tr']:>6} {r['client']} {r['client_port']} {r['action']}/{r['status']} {r['size']} {r['req_size']}"
        f" {r['method']} {r['url']} {r['version']} {r['user']} {r['hier']}/{r['server']} {r['server_port']} {r['ctype']}"
        f' "{r["referer"]}" "{r["agent"]}"'
    )


assert RECOMMENDED.count("%") == 19  # squid_recommended_line writes these 19 fields

#: :data:`RECOMMENDED` timed by ``[%tl]`` (local time with its UTC offset) instead of ``%ts.%03tu``:
#: a proxy configured to log in its own zone. ``%tl`` has no sub-second part.
LOCAL_TIME_LOGFORMAT = RECOMMENDED.replace("%ts.%03tu", "[%tl]")
assert LOCAL_TIME_LOGFORMAT.startswith("[%tl] ")


def _squid_local_time(r: dict[str, str]) -> str:
    """``%tl``: ``25/Oct/2026:02:30:00 +0100``, the event's second in the record's zone (``r["tz"]``, default UTC)."""
    zone = r.get("tz")
    t = datetime.fromtimestamp(int(r["ts"].split(".", 1)[0]), ZoneInfo(zone) if zone else UTC)
    offset = t.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset else 0
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year:04d}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} {sign}{hh:02d}{mm:02d}"


def squid_local_line(r: dict[str, str]) -> str:
    """A line as Squid writes it with :data:`LOCAL_TIME_LOGFORMAT`: :func:`squid_recommended_line` with ``[%tl]`` first."""
    return f"[{_squid_local_time(r)}]{squid_recommended_line(r)[len(r['ts']) :]}"


# --- NCSA common / combined (Apache) ------------------------------------------------------


def _clf_time(r: dict[str, str]) -> str:
    """``21/Sep/2026:16:13:20 +0200``: the event's instant in one of :data:`CLF_OFFSETS`."""
    offset = CLF_OFFSETS[int(r["seq"]) % len(CLF_OFFSETS)]
    sign = -1 if offset[0] == "-" else 1
    t = _utc(r) + sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:]))
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year:04d}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} {offset}"


def clf_line(r: dict[str, str]) -> str:
    """``%h %l %u %t "%r" %>s %b``, as Apache writes it in front of a forward proxy (absolute URLs)."""
    size = "-" if r["size"] == "0" else r["size"]  # %b: '-' for no body
    return f'{r["client"]} - {r["user"]} [{_clf_time(r)}] "{r["method"]} {r["url"]} HTTP/{r["version"]}" {r["status"]} {size}'


def combined_line(r: dict[str, str]) -> str:
    """``clf_line`` plus ``"%{Referer}i" "%{User-Agent}i"``, escaped as Apache does."""
    return f'{clf_line(r)} "{_apache_escape(r["referer"])}" "{_apache_escape(r["agent"])}"'


# --- ProxySG ELFF ---------------------------------------------------------------------------

#: ProxySG's ``bcreportermain_v1`` field list plus the upstream address (``s-supplier-ip``).
ELFF_FIELDS = (
    "date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories cs(Referer) "
    "sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query "
    "cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id x-bluecoat-application-name "
    "x-bluecoat-application-operation s-supplier-ip"
)
ELFF_ACTIONS = {"TCP_TUNNEL": "TCP_TUNNELED"}


def elff_header() -> list[str]:
    """The directives ProxySG writes at the top of each access-log file."""
    return [
        "#Software: SGOS 7.3.16.1",
        "#Version: 1.0",
        f"#Date: {_iso(datetime.fromtimestamp(START_EPOCH, UTC))}",
        f"#Fields: {ELFF_FIELDS}",
    ]


def _elff_value(value: str, *, quote: bool = False) -> str:
    if value in ("", "-"):
        return "-"
    if quote or any(c in value for c in ' \t"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _elff_values(r: dict[str, str]) -> list[str]:
    scheme, host, port, path, query = _url_parts(r["url"])
    if r["method"] == "CONNECT":
        scheme, path = "tcp", "/"  # ProxySG logs an unintercepted tunnel as tcp://host:443/
    extension = path.rpartition(".")[2] if "." in path.rpartition("/")[2] else ""
    denied = _blocked(r)
    t = _utc(r)
    return [
        _iso(t)[:10],
        _iso(t)[11:],
        r["tr"],
        r["client"],
        _elff_value(r["user"]),
        "-",
        "policy_denied" if denied else "-",
        "DENIED" if denied else "OBSERVED",
        _elff_value(CATEGORIES[r["host"]], quote=True),
        _elff_value(r["referer"]),
        r["status"],
        ELFF_ACTIONS.get(r["action"], r["action"]),
        r["method"],
        _elff_value(r["ctype"]),
        _elff_value(scheme),
        _elff_value(host),
        _elff_value(port),
        _elff_value(path),
        _elff_value(f"?{query}" if query else ""),
        _elff_value(extension),
        _elff_value(r["agent"], quote=True),
        PROXY_IP,
        r["size"],
        r["req_size"],
        "-",
        "-",
        "-",
        _elff_value(r["server"]),
    ]


def elff_line(r: dict[str, str]) -> str:
    """One ProxySG data line for :data:`ELFF_FIELDS`; times are GMT, as W3C and ProxySG write them."""
    return " ".join(_elff_values(r))


assert len(ELFF_FIELDS.split()) == len(_elff_values(_record(random.Random(0), 1)))


# --- Cisco Umbrella CSV -------------------------------------------------------------------

UMBRELLA_COLUMNS = 35


def _umbrella_values(r: dict[str, str]) -> list[str]:
    user = r["user"]
    if user != "-":
        label, kind = f"{user} ({user}@example.com)", "AD Users"
    else:
        label, kind = f"WS-{int(r['seq']) % 97:04d}", "AD Computers"
    blocked = _blocked(r)
    category = CATEGORIES[r["host"]]
    url = "" if r["url"].startswith("error:") else r["url"]
    values = [
        _iso(_utc(r)),  # Timestamp (UTC)
        label,  # Policy Identity Label
        r["client"],  # Internal Client IP
        "203.0.113.50",  # External Client IP
        "" if r["server"] == "-" else r["server"],  # Destination IP
        "" if r["ctype"] == "-" else r["ctype"],  # Content Type
        "BLOCKED" if blocked else "ALLOWED",  # Action
        url,  # URL
        "" if r["referer"] == "-" else r["referer"],  # Referer
        r["agent"],  # User Agent
        r["status"],  # Status Code
        r["req_size"],  # Request Size
        r["size"],  # Response Size
        str(max(0, int(r["size"]) - 320)),  # Response Body Size
        "",  # SHA256
        category,  # Categories
        "",  # AV Detections
        "",  # PUAs
        "",  # AMP Disposition
        "",  # AMP Malware Name
        "",  # AMP Score
        kind,  # Policy Identity Type
        category if blocked else "",  # Blocked Categories
        label,  # Identities
        kind,  # Identity Types
        r["method"],  # Request Method
        "",  # DLP Status
        "",  # Certificate Errors
        "",  # File Name
        "1234567",  # Ruleset ID
        "89012" if blocked else "89011",  # Rule ID
        "",  # Destination List IDs
        "",  # Isolate Action
        "",  # File Action
        "",  # Warn Status
    ]
    return values


def _csv(values: list[str]) -> str:
    return ",".join('"' + v.replace('"', '""') + '"' for v in values)


def umbrella_csv_line(r: dict[str, str]) -> str:
    """A 35-column Umbrella proxy-log line (the version with Request Method and Warn Status)."""
    return _csv(_umbrella_values(r))


assert len(_umbrella_values(_record(random.Random(0), 1))) == UMBRELLA_COLUMNS


# --- Zscaler NSS (JSON) -------------------------------------------------------------------

NSS_SOURCETYPE = "zscalernss-web"


def _ctime(t: datetime) -> str:
    """NSS's ``%s{time}``: ``Mon Sep 21 14:13:20 2026`` (English names whatever the locale)."""
    return f"{WEEKDAYS[t.weekday()]} {MONTHS[t.month - 1]} {t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d} {t.year:04d}"


def _nss_event(r: dict[str, str]) -> dict[str, str]:
    """The web-feed fields of Zscaler's Splunk template (every value a string, as the template writes it)."""
    scheme, host, port, path, query = _url_parts(r["url"])
    if r["method"] == "CONNECT":
        url, proto = f"{host}:{port}", "SSL"
    elif scheme:
        url, proto = f"{host}{path}{'?' + query if query else ''}", scheme.upper()
    else:
        url, proto = "None", "HTTP"  # Squid's error: pseudo-URL has no NSS equivalent
    blocked = _blocked(r)
    return {
        "datetime": _ctime(_utc(r)),
        "reason": "Blocked by URL filtering" if blocked else "Allowed",
        "event_id": str(7_310_000_000 + int(r["seq"])),
        "protocol": proto,
        "action": "Blocked" if blocked else "Allowed",
        "transactionsize": str(int(r["size"]) + int(r["req_size"])),
        "responsesize": r["size"],
        "requestsize": r["req_size"],
        "urlcategory": CATEGORIES[r["host"]],
        "serverip": "None" if r["server"] == "-" else r["server"],
        "clienttranstime": r["tr"],
        "requestmethod": r["method"],
        "refererURL": "None" if r["referer"] == "-" else r["referer"],
        "useragent": _nss_escape(r["agent"]),
        "product": "NSS",
        "location": "Road%20Warrior" if int(r["seq"]) % 5 == 0 else "HQ",
        "ClientIP": r["client"],
        "status": r["status"],
        "user": "None" if r["user"] == "-" else f"{r['user']}@example.com",
        "url": url,
        "vendor": "Zscaler",
        "contenttype": "Other" if r["ctype"] == "-" else r["ctype"],
    }


def zscaler_nss_line(r: dict[str, str]) -> str:
    """``{"sourcetype":"zscalernss-web","event":{...}}``, one record per line."""
    return json.dumps({"sourcetype": NSS_SOURCETYPE, "event": _nss_event(r)}, ensure_ascii=False, separators=(",", ":"))


# --- kinds, damage, generation ------------------------------------------------------------

LineWriter = Callable[[dict[str, str]], str]

LINE_WRITERS: dict[str, LineWriter] = {
    "squid": squid_native_line,
    "squid-recommended": squid_recommended_line,
    "squid-local": squid_local_line,
    "clf": clf_line,
    "combined": combined_line,
    "elff": elff_line,
    "umbrella-csv": umbrella_csv_line,
    "zscaler-nss": zscaler_nss_line,
}
KINDS = tuple(LINE_WRITERS)

#: Kind -> (format name for ``build_parser``, logformat spec, time zone it needs).
FORMATS: dict[str, tuple[str, str | None, str | None]] = {
    "squid": ("squid", None, None),
    "squid-recommended": ("squid-logformat", RECOMMENDED, None),
    "squid-local": ("squid-logformat", LOCAL_TIME_LOGFORMAT, None),  # the offsets are in the lines
    "clf": ("clf", None, None),
    "combined": ("combined", None, None),
    "elff": ("elff", None, None),
    "umbrella-csv": ("umbrella-csv", None, None),
    "zscaler-nss": ("zscaler-nss", None, "UTC"),  # the NSS feed's default zone is GMT
}

#: Squid's damaged lines (kept as they were, so Squid samples keep their bytes).
SQUID_DAMAGE = (
    "1790000000.123 42 10.0.0.1 TCP_MISS/200",
    "garbage line without fields",
    "abc.def 5 10.0.0.1 TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -",
)


def _cut_inside(line: str, value: str) -> str:
    """The line cut short halfway through ``value`` (a write interrupted by a crash or a full disk)."""
    start = line.index(value)
    return line[: start + max(1, len(value) // 2)]


def _damage_squid_local(r: dict[str, str], variant: int) -> str:
    line = squid_local_line(r)
    if variant == 0:  # cut inside the quoted user agent
        return _cut_inside(line, f'"{r["agent"]}"')
    if variant == 1:  # a time without its UTC offset (a hand-made %{...}tl format)
        return line.replace(f"[{_squid_local_time(r)}]", f"[{_squid_local_time(r)[:-6]}]", 1)
    return line[: len(line) // 3] + line  # a write cut short by a crash, the next line written right after it


def _damage_clf(r: dict[str, str], variant: int, combined: bool) -> str:
    line = combined_line(r) if combined else clf_line(r)
    if variant == 0:  # cut inside the quoted request line
        return _cut_inside(line, f'"{r["method"]} {r["url"]}')
    if variant == 1:  # TLS handshake sent to the plain-HTTP port: Apache logs the bytes, escaped
        tail = ' "-" "-"' if combined else ""
        return f'{r["client"]} - - [{_clf_time(r)}] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03" 400 0{tail}'
    return line.replace(_clf_time(r), _clf_time(r)[:-6])  # a time without its UTC offset (a hand-made LogFormat)


def _damage_elff(r: dict[str, str], variant: int) -> str:
    values = _elff_values(r)
    if variant == 0:  # cut inside the quoted user agent
        line = " ".join(values)
        return _cut_inside(line, values[20])
    if variant == 1:  # a line from an older field list: the last three fields missing
        return " ".join(values[:-3])
    values[0] = values[0][:8] + "31"  # a date that does not exist (2026-09-31)
    return " ".join(values)


def _damage_umbrella(r: dict[str, str], variant: int) -> str:
    values = _umbrella_values(r)
    if variant == 0:  # cut inside the quoted user agent
        return _cut_inside(_csv(values), f'"{values[9]}"')
    if variant == 1:  # one column lost: 34 is no published version
        return _csv(values[:-1])
    line = _csv(values)  # a quote inside a field written without doubling it
    return line.replace(f'"{values[9]}"', f'"{values[9]} "beta""')


def _damage_nss(r: dict[str, str], variant: int) -> str:
    line = zscaler_nss_line(r)
    if variant == 0:  # cut short: not JSON
        return line[: len(line) // 2]
    if variant == 1:  # a firewall-feed record on the same HEC input
        return line.replace(NSS_SOURCETYPE, "zscalernss-fw")
    event = _nss_event(r)
    event["datetime"] = "None"  # a template without its time field
    return json.dumps({"sourcetype": NSS_SOURCETYPE, "event": event}, ensure_ascii=False, separators=(",", ":"))


DAMAGE: dict[str, Callable[[dict[str, str], int], str]] = {
    "squid": lambda r, v: SQUID_DAMAGE[v],
    "squid-recommended": lambda r, v: SQUID_DAMAGE[v],
    "squid-local": _damage_squid_local,
    "clf": lambda r, v: _damage_clf(r, v, combined=False),
    "combined": lambda r, v: _damage_clf(r, v, combined=True),
    "elff": _damage_elff,
    "umbrella-csv": _damage_umbrella,
    "zscaler-nss": _damage_nss,
}


def header_lines(kind: str) -> list[str]:
    """Lines a file of ``kind`` starts with before its records (directives, not data)."""
    return elff_header() if kind == "elff" else []


def is_damaged(index: int, damaged_every: int) -> bool:
    """Whether record ``index`` (0-based, headers not counted) is a damaged line."""
    return bool(damaged_every) and index % damaged_every == damaged_every - 1


def generate_lines(kind: str, count: int, seed: int = 7, damaged_every: int = 0) -> Iterator[str]:
    """Yield the header lines of ``kind`` (see :func:`header_lines`), then ``count`` records.

    With ``damaged_every`` N, every Nth record is replaced by a damaged line that the
    format's parser rejects. The damaged lines are drawn from their own random stream, so
    the other records are the same events in every kind.
    """
    write = LINE_WRITERS[kind]
    damage = DAMAGE[kind]
    rng = random.Random(seed)
    yield from header_lines(kind)
    for i in range(count):
        if is_damaged(i, damaged_every):
            variant = rng.choice((0, 1, 2))  # one draw, as a record's place in the stream would not be
            yield damage(_record(random.Random(seed * 1_000_003 + i), i), variant)
            continue
        yield write(_record(rng, i))


def write_sample(path: Path, kind: str, count: int, seed: int = 7, damaged_every: int = 0) -> Path:
    """Write a sample log file (plain text, one line per record) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for line in generate_lines(kind, count, seed, damaged_every):
            f.write(line + "\n")
    return path


# --- traffic over a time span -------------------------------------------------------------

#: Share of the peak hourly rate, by local hour, on a working day: background traffic (updates,
#: telemetry) at night, the morning ramp 07-09, a peak in working hours, a lunch dip at 12, an evening tail.
WEEKDAY_CURVE = (
    0.07, 0.06, 0.05, 0.05, 0.05, 0.07, 0.14, 0.35, 0.70, 0.92, 1.00, 0.96,
    0.68, 0.82, 0.97, 1.00, 0.92, 0.72, 0.45, 0.30, 0.24, 0.19, 0.14, 0.10,
)  # fmt: skip
#: The same on Saturday and Sunday: the night background, a low flat day; about 25 % of a working day.
WEEKEND_CURVE = (
    0.06, 0.05, 0.05, 0.05, 0.05, 0.05, 0.06, 0.07, 0.09, 0.14, 0.17, 0.19,
    0.19, 0.18, 0.18, 0.18, 0.17, 0.16, 0.15, 0.14, 0.13, 0.10, 0.08, 0.07,
)  # fmt: skip
#: Factor per weekday (Monday first): a quieter Thursday and Friday.
DAY_FACTORS = (1.0, 1.0, 1.0, 0.97, 0.88, 1.0, 1.0)
#: Each hour's count varies by up to this share around the curve (drawn from the hour's own stream).
HOUR_JITTER = 0.1
#: Largest ``per_hour``: with the jitter, an hour still holds fewer records than milliseconds.
MAX_PER_HOUR = 3_000_000

HOUR_MS = 3_600_000
_T = TypeVar("_T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar")


def _traffic_client(k: int) -> tuple[str, str]:
    """(address, user) of workstation ``k``: a fixed population; every 40th host has IPv6, every 6th logs no user."""
    address = f"2001:db8:0:20::{k:x}" if k % 40 == 39 else f"10.20.{k // 200}.{k % 200 + 10}"
    user = "svc-backup" if k == 3 else "-" if k % 6 == 5 else f"{_NAMES[k % len(_NAMES)]}{k // len(_NAMES) or ''}"
    return address, user


#: The clients of :func:`generate_traffic`, busiest first (Zipf-like: a few hosts make most requests).
TRAFFIC_CLIENTS = tuple(_traffic_client(k) for k in range(300))
_CLIENT_CUM_WEIGHTS = tuple(sum(1 / (j + 1) ** 0.8 for j in range(k + 1)) for k in range(len(TRAFFIC_CLIENTS)))


class _HourRandom(random.Random):
    """An hour's stream for :func:`_record`: ``choice`` and ``randint`` from one ``random()`` each,
    a fifth faster than :class:`random.Random`'s rejection sampling, and as deterministic."""

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


def _damage_elff_any_month(r: dict[str, str], variant: int) -> str:
    """:func:`_damage_elff` for events on any date: its made-up date, the 31st of the event's month,
    exists in half the months, so variant 2 writes the 30th of February instead."""
    if variant != 2:
        return _damage_elff(r, variant)
    values = _elff_values(r)
    values[0] = values[0][:5] + "02-30"
    return " ".join(values)


#: :data:`DAMAGE` for :func:`generate_traffic`, whose events are not all in September.
TRAFFIC_DAMAGE: dict[str, Callable[[dict[str, str], int], str]] = {**DAMAGE, "elff": _damage_elff_any_month}


def traffic_rate(hour: datetime, per_hour: int, tz: str | None = None) -> float:
    """Expected records in the UTC hour starting at ``hour``: ``per_hour`` times the curve at that hour's local time in ``tz``."""
    local = (hour + timedelta(minutes=30)).astimezone(ZoneInfo(tz) if tz else UTC)  # the hour's middle, for half-hour zones
    weekday = local.weekday()
    curve = WEEKEND_CURVE if weekday >= 5 else WEEKDAY_CURVE
    return per_hour * curve[local.hour] * DAY_FACTORS[weekday]


def _epoch_ms(t: datetime, what: str) -> int:
    """Milliseconds since 1970 of the first whole millisecond at or after ``t`` (an aware datetime)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} {t.isoformat()} has no time zone; give an aware UTC datetime (tzinfo=UTC)")
    micros = (t - _EPOCH) // timedelta(microseconds=1)
    return -(-micros // 1000)


def generate_traffic(
    kind: str,
    start: datetime,
    end: datetime,
    *,
    per_hour: int,
    seed: int = 7,
    damaged_every: int = 0,
    tz: str | None = None,
) -> Iterator[str]:
    """Header lines of `kind`, then records with event times in [start, end) (UTC datetimes), in time order.

    ``per_hour`` is the peak rate: each UTC hour holds about :func:`traffic_rate` records
    (never fewer than one; an hour the span cuts may lose its few), the curve read at local
    time in ``tz`` (default UTC). Records
    are :func:`_record` events at distinct milliseconds, strictly increasing; formats that
    log whole seconds show them truncated. ``squid-local`` writes local times in ``tz``.

    Each hour is drawn from its own random stream (``seed`` and the hour), and a record's
    index is its time in milliseconds since 1970, so the output does not depend on where
    the span starts or ends: the records of [a, b) then [b, c) are those of [a, c). With
    ``damaged_every`` N, records whose index is N - 1 modulo N (about one in N) are damaged
    lines (:data:`TRAFFIC_DAMAGE`) in place of the same event; the other lines stay as they were.
    """
    if not 1 <= per_hour <= MAX_PER_HOUR:
        raise ValueError(f"per_hour {per_hour} is out of range; give 1 to {MAX_PER_HOUR}")
    if damaged_every < 0:
        raise ValueError(f"damaged_every {damaged_every} is negative; give 0 (no damage) or N for about one damaged line in N")
    if kind not in LINE_WRITERS:
        raise ValueError(f"unknown kind '{kind}'; choose from {', '.join(KINDS)}")
    if tz:
        ZoneInfo(tz)  # an unknown zone fails here, not at the first line
    return _traffic(kind, _epoch_ms(start, "start"), _epoch_ms(end, "end"), per_hour, seed, damaged_every, tz)


def _traffic(kind: str, start_ms: int, end_ms: int, per_hour: int, seed: int, damaged_every: int, tz: str | None) -> Iterator[str]:
    write, damage = LINE_WRITERS[kind], TRAFFIC_DAMAGE[kind]
    yield from header_lines(kind)
    population = range(len(TRAFFIC_CLIENTS))
    for hour in range(start_ms // HOUR_MS, -(-end_ms // HOUR_MS)):
        base = hour * HOUR_MS
        rng = _HourRandom(f"proxyvault-traffic/{seed}/{hour}")
        expected = traffic_rate(_EPOCH + timedelta(milliseconds=base), per_hour, tz)
        count = max(1, round(expected * (1 - HOUR_JITTER + 2 * HOUR_JITTER * rng.random())))
        offsets = sorted(rng.sample(range(HOUR_MS), count))
        clients = rng.choices(population, cum_weights=_CLIENT_CUM_WEIGHTS, k=count)
        for offset, client in zip(offsets, clients, strict=True):
            index = base + offset
            if index >= end_ms:
                break
            r = _record(rng, index)  # drawn before the start too: the hour's stream stays the same
            if index < start_ms:
                continue
            r["ts"] = f"{index // 1000}.{index % 1000:03d}"
            r["client"], r["user"] = TRAFFIC_CLIENTS[client]
            if tz:
                r["tz"] = tz
            if is_damaged(index, damaged_every):
                yield damage(r, index // damaged_every % 3)
            else:
                yield write(r)


def write_traffic(
    path: Path,
    kind: str,
    start: datetime,
    end: datetime,
    *,
    per_hour: int,
    seed: int = 7,
    damaged_every: int = 0,
    tz: str | None = None,
    append: bool = False,
) -> int:
    """Write (or append to) a log file; return the number of lines written (headers included).

    The lines are :func:`generate_traffic`'s; appending writes the kind's header lines again
    (as ProxySG does when it starts a new log)."""
    lines = generate_traffic(kind, start, end, per_hour=per_hour, seed=seed, damaged_every=damaged_every, tz=tz)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("a" if append else "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
            written += 1
    return written
