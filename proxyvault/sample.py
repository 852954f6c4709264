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
``clf``, ``combined``   NCSA common / combined, as Apache writes them (times in several UTC offsets)
``elff``                ProxySG W3C ELFF: ``#Software/#Version/#Date/#Fields`` header, then data lines
``umbrella-csv``        Cisco Umbrella proxy log, the 35-column version, every field double-quoted
``zscaler-nss``         Zscaler NSS web feed, Splunk (HEC) JSON template; times in GMT (``--tz UTC``)
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from transforms.parsers.squid_logformat import RECOMMENDED

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
