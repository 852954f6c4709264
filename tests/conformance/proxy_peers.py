"""Other parsers' expected output for Umbrella, Zscaler NSS, ProxySG/ELFF and CLF records.

The loaders map each peer's test file onto our canonical columns (see ``peer.py`` for the
model and ``squid_peers.py`` for the Squid sources); the comparison, the tallies and the
documented differences live in ``test_corpus.py``. The corpus is read in place from the
shared corpus and never copied into this repository.

This module also names the raw-only files (no peer output) that ``test_corpus.py``
normalizes and checks on their own terms, with the small readers those checks need.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conformance.peer import EXTRA_PREFIX, PeerCase, PeerSource, Value, get, instant, integral, iso_instant, text
from transforms.parsers import ParserOptions
from transforms.parsers.squid_logformat import RECOMMENDED

ELASTIC_UMBRELLA = Path("elastic-integrations/packages/cisco_umbrella/data_stream/log/_dev/test/pipeline/test-umbrella-proxylogs.log")
SENTINEL_PROXYSG = Path("azure-sentinel/Sample Data/Syslog/SymantecProxySG.json.first17.pairs.jsonl")
SEKOIA_UMBRELLA_DIR = Path("sekoia-intake-formats/Umbrella/umbrella-proxy/tests")
SEKOIA_ZSCALER_DIR = Path("sekoia-intake-formats/Zscaler/zscaler-zia/tests")
SEKOIA_SQUID_DIR = Path("sekoia-intake-formats/Squid/squid/tests")

#: Raw-only files: no peer output we can use, checked on their own terms.
GCHQ_BLUECOAT = Path("gchq-stroom-docs/assets/files/HOWTOs/EventFeeds/ProcessingHowTo/sampleBluecoat.log")
ELASTIC_ZSCALER_WEB = Path("elastic-integrations/packages/zscaler_zia/data_stream/web/_dev/test/pipeline/test-web.log")
ELASTIC_FORTIPROXY = Path("elastic-integrations/packages/fortinet_fortiproxy/data_stream/log/_dev/test/pipeline/test-example.log")

#: The ELFF field list of the Sentinel ProxySG sample (syslog messages carry no ``#Fields:``
#: line). Our reading, from the 17 message/column pairs:
#:
#: * The first 27 fields are ProxySG's predefined ``bcreportermain_v1`` format as SGOS 6.x
#:   writes it (``date`` ... ``x-bluecoat-application-operation``; Elastic's ``proxysg``
#:   package lists the same order, with supplier and threat fields later versions insert).
#:   Sentinel's column names follow it one for one: ``cs_userdn``, ``cs_auth_groups``,
#:   ``exception_id``, ``cs_referrer``, ``content_type`` (``rs(Content-Type)``), ``sent_bytes``
#:   (``sc-bytes``), ``received_bytes`` (``cs-bytes``), ``virus_id``, ``app_name``,
#:   ``app_operation``. Referer and content type are not quoted in the sample, as in
#:   ``bcreportermain_v1``.
#: * The last three are the fields Microsoft's connector page tells admins to append
#:   (``$(cs-uri-port) $(x-cs-client-ip-country) $(cs-threat-risk)``); Sentinel calls them
#:   ``src_port``, ``country``, ``cs_threat_risk``. The first of them cannot be ``cs-uri-port``
#:   in this sample: on every CONNECT it is 80 or 3128 while field 17 (``cs-uri-port``) is 443,
#:   and it is 31415 where the proxy served its own PAC file on 31415. It is the proxy's
#:   listening port, ELFF ``s-port``, which is what Sentinel's name says too.
#: * ProxySG sometimes writes two spaces between fields (after ``cs(Referer)`` on every line
#:   here; Elastic's ``bcreportermain_v1`` pipeline collapses them first): a run of spaces is
#:   one separator in ELFF.
SENTINEL_PROXYSG_LOGFORMAT = (
    "date time time-taken c-ip cs-userdn cs-auth-groups x-exception-id sc-filter-result cs-categories cs(Referer) "
    "sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query "
    "cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id x-bluecoat-application-name "
    "x-bluecoat-application-operation s-port x-cs-client-ip-country cs-threat-risk"
)

#: Options for building each format when no source-specific option is known (FortiProxy check).
DEFAULT_OPTIONS: Mapping[str, ParserOptions] = {
    "squid-logformat": ParserOptions(logformat=RECOMMENDED),
    "zscaler-nss": ParserOptions(tz="UTC"),
}


def _dash(value: Any) -> Any:
    """ELFF's ``-`` (and an empty value) is null."""
    return None if value in ("-", "", None) else value


# --- Elastic cisco_umbrella ----------------------------------------------------------------

#: Elastic's event.type verdict word -> Umbrella's own (the CSV's Action column).
_ELASTIC_VERDICT = {"allowed": "ALLOWED", "denied": "BLOCKED"}


#: Our ``extra`` key (Cisco's column name) -> Elastic's field for it. Elastic's ``identities`` and
#: ``identity_types`` are lists split on commas (trimmed), so they are not compared.
ELASTIC_UMBRELLA_EXTRA: Mapping[str, str] = {
    "Policy Identity Label": "cisco.umbrella.identity",
    "External Client IP": "source.nat.ip",
    "Response Body Size": "http.response.body.bytes",
    "SHA256": "cisco.umbrella.sha_sha256",
    "Categories": "cisco.umbrella.categories",
    "AV Detections": "cisco.umbrella.av_detections",
    "PUAs": "cisco.umbrella.puas",
    "AMP Disposition": "cisco.umbrella.amp_disposition",
    "AMP Score": "cisco.umbrella.amp_score",
    "Policy Identity Type": "cisco.umbrella.policy_identity_type",
    "Blocked Categories": "cisco.umbrella.blocked_categories",
    "File Name": "file.name",
    "Ruleset ID": "cisco.umbrella.ruleset_id",
    "Isolate Action": "cisco.umbrella.isolate_action",
    "File Action": "cisco.umbrella.file_action",
    "Warn Status": "cisco.umbrella.warn_status",
}


def _extras(doc: Mapping[str, Any], mapping: Mapping[str, str], nulls: frozenset[str] = frozenset()) -> dict[str, Value]:
    """``extra:<our key>`` -> the peer's value as text (our ``extra`` values are text)."""
    out: dict[str, Value] = {}
    for key, path in mapping.items():
        value = get(doc, path)
        out[f"{EXTRA_PREFIX}{key}"] = None if value is None or str(value) in nulls else str(value)
    return out


def _umbrella_null(value: Any) -> Any:
    """Umbrella writes ``" "`` for a missing user agent; empty and whitespace-only fields are null."""
    return None if value is None or not str(value).strip() else value


def _elastic_umbrella_expected(doc: Mapping[str, Any]) -> dict[str, Value]:
    verdicts = [v for v in doc["event"].get("type", []) if v in _ELASTIC_VERDICT]
    return {
        "event_time": iso_instant(doc["@timestamp"]),
        "client_ip": text(get(doc, "source.ip")),
        "server_ip": text(get(doc, "destination.ip")),
        "http_method": text(get(doc, "http.request.method")),
        "url": text(get(doc, "url.original")),
        "url_scheme": text(get(doc, "url.scheme")),
        "url_host": text(get(doc, "url.domain")),
        "url_path": text(get(doc, "url.path")),
        "url_query": text(get(doc, "url.query")),
        "status_code": integral(get(doc, "http.response.status_code")),
        "request_bytes": integral(get(doc, "http.request.bytes")),
        "response_bytes": integral(get(doc, "http.response.bytes")),
        "content_type": text(get(doc, "http.request.mime_type")),
        "user_agent": text(_umbrella_null(get(doc, "user_agent.original"))),
        "referer": text(get(doc, "http.request.referrer")),
        "proxy_action": _ELASTIC_VERDICT[verdicts[0]] if verdicts else None,
        **_extras(doc, ELASTIC_UMBRELLA_EXTRA),
    }


def elastic_umbrella(corpus: Path) -> PeerSource:
    lines = (corpus / ELASTIC_UMBRELLA).read_text(encoding="utf-8").splitlines()
    docs = json.loads((corpus / f"{ELASTIC_UMBRELLA}-expected.json").read_text(encoding="utf-8"))["expected"]
    if len(docs) != len(lines):
        raise ValueError(f"{ELASTIC_UMBRELLA}: {len(lines)} lines but {len(docs)} expected documents")
    cases = []
    for number, (line, doc) in enumerate(zip(lines, docs, strict=True), start=1):
        if doc["event"]["original"] != line:
            raise ValueError(f"{ELASTIC_UMBRELLA} line {number}: event.original does not match the raw line")
        cases.append(PeerCase(f"line {number}", line, _elastic_umbrella_expected(doc)))
    return PeerSource(
        name="elastic-umbrella",
        description=f"Elastic integrations `{ELASTIC_UMBRELLA}` (Cisco Umbrella proxy CSV)",
        parser="umbrella-csv",
        options=ParserOptions(),
        fields=tuple(_elastic_umbrella_expected({"event": {}, "@timestamp": "1970-01-01T00:00:00Z"})),
        cases=tuple(cases),
        not_compared={
            "username": "Elastic keeps Umbrella's policy identity in cisco.umbrella.identity and sets no user.name",
            "server_port": "Elastic sets no url.port or destination.port for Umbrella",
            "extra:Identities, extra:Identity Types": "Elastic splits them on commas into trimmed lists",
        },
    )


# --- Microsoft Sentinel SymantecProxySG ------------------------------------------------------


def _first_of_list(value: Any) -> Any:
    """Sentinel's ``content_type`` is a JSON list (the value split on ``;``): its first item."""
    items = json.loads(value) if isinstance(value, str) and value.startswith("[") else [value]
    return items[0].strip() if items else None


#: ProxySG's schemes for a tunnelled connection (CONNECT), whose request target has no path.
_TUNNEL_SCHEMES = ("tcp", "ssl")


def _sentinel_expected(parsed: Mapping[str, Any]) -> dict[str, Value]:
    def col(name: str) -> Any:
        return _dash(parsed.get(name))

    expected: dict[str, Value] = {
        "event_time": iso_instant(parsed["logTime"]),
        "duration_ms": integral(col("time_taken")),
        "client_ip": text(col("c_ip")),
        "username": text(col("cs_userdn")),
        "status_code": integral(col("sc_status")),
        "proxy_action": text(col("s_action")),
        "http_method": text(col("cs_method")),
        "content_type": text(_dash(_first_of_list(parsed.get("content_type")))),
        "url_scheme": text(col("cs_uri_scheme")),
        "url_host": text(col("cs_host")),
        "server_port": integral(col("cs_uri_port")),
        "url_path": text(col("cs_uri_path")),
        "url_query": text(col("cs_uri_query")),
        "user_agent": text(col("cs_user_agent")),
        "referer": text(col("cs_referrer")),
        "response_bytes": integral(col("sent_bytes")),
        "request_bytes": integral(col("received_bytes")),
        f"{EXTRA_PREFIX}x-exception-id": text(col("exception_id")),
        f"{EXTRA_PREFIX}sc-filter-result": text(col("sc_filter_result")),
        f"{EXTRA_PREFIX}x-virus-id": text(col("virus_id")),
        f"{EXTRA_PREFIX}x-bluecoat-application-name": text(col("app_name")),
        f"{EXTRA_PREFIX}x-bluecoat-application-operation": text(col("app_operation")),
        f"{EXTRA_PREFIX}s-port": text(col("src_port")),
        f"{EXTRA_PREFIX}cs-threat-risk": text(col("cs_threat_risk")),
    }
    if col("cs_uri_scheme") in _TUNNEL_SCHEMES:
        del expected["url_path"]  # ProxySG's '/' placeholder for a tunnel (see not_compared)
    return expected


def sentinel_proxysg(corpus: Path) -> PeerSource:
    cases = []
    for number, line in enumerate((corpus / SENTINEL_PROXYSG).read_text(encoding="utf-8").splitlines(), start=1):
        pair = json.loads(line)
        cases.append(PeerCase(f"record {number}", pair["message"], _sentinel_expected(pair["parsed"])))
    return PeerSource(
        name="sentinel-proxysg",
        description=f"Azure Sentinel `{SENTINEL_PROXYSG}` (ProxySG over syslog, see SENTINEL_PROXYSG_LOGFORMAT)",
        parser="elff",
        options=ParserOptions(logformat=SENTINEL_PROXYSG_LOGFORMAT),
        fields=(
            "event_time",
            "duration_ms",
            "client_ip",
            "username",
            "status_code",
            "proxy_action",
            "http_method",
            "content_type",
            "url_scheme",
            "url_host",
            "server_port",
            "url_path",
            "url_query",
            "user_agent",
            "referer",
            "response_bytes",
            "request_bytes",
            f"{EXTRA_PREFIX}x-exception-id",
            f"{EXTRA_PREFIX}sc-filter-result",
            f"{EXTRA_PREFIX}x-virus-id",
            f"{EXTRA_PREFIX}x-bluecoat-application-name",
            f"{EXTRA_PREFIX}x-bluecoat-application-operation",
            f"{EXTRA_PREFIX}s-port",
            f"{EXTRA_PREFIX}cs-threat-risk",
        ),
        cases=tuple(cases),
        not_compared={
            "url": "Sentinel has no full-URL column (the format logs the URL's parts)",
            "url_path (tunnels)": (
                "for a tunnel (cs-uri-scheme tcp/ssl, CONNECT) ProxySG logs cs-uri-path '/' for the tcp://host:port/ it "
                "composes; a CONNECT target has no path, so we store host:port as Squid does and url_path is null; the 15 "
                "tunnel records are not compared on url_path"
            ),
            "extra:cs-categories": "Sentinel splits the quoted category list into a JSON array",
            "extra:x-cs-client-ip-country": "Sentinel %-decodes the country (Ambiguous%20-%20Special%20Use)",
        },
    )


# --- SEKOIA.IO Umbrella, Zscaler, Squid-as-CLF -------------------------------------------------


def _sekoia_tests(corpus: Path, directory: Path, pattern: str = "*.json") -> list[tuple[str, dict[str, Any]]]:
    return [(path.stem, json.loads(path.read_text(encoding="utf-8"))) for path in sorted((corpus / directory).glob(pattern))]


def _sekoia_time(doc: Mapping[str, Any]) -> Value:
    timestamp = get(doc, "@timestamp")
    return None if timestamp is None else iso_instant(timestamp)


#: Our ``extra`` key (Cisco's column name) -> SEKOIA's field for it.
SEKOIA_UMBRELLA_EXTRA: Mapping[str, str] = {
    "External Client IP": "source.ip",
    "Response Body Size": "http.response.body.bytes",
    "SHA256": "file.hash.sha256",
    "File Name": "file.name",
    "Organization ID": "organization.id",
}


def _sekoia_umbrella_expected(doc: Mapping[str, Any]) -> dict[str, Value]:
    reason = get(doc, "action.outcome_reason")
    return {
        "event_time": _sekoia_time(doc),
        # SEKOIA puts Umbrella's External IP in source.ip and its Internal IP in source.nat.ip.
        "client_ip": text(get(doc, "source.nat.ip")),
        "server_ip": text(get(doc, "destination.ip")),
        "http_method": text(get(doc, "http.request.method")),
        "url": text(get(doc, "url.original")),
        "url_scheme": text(get(doc, "url.scheme")),
        "url_host": text(get(doc, "url.domain")),
        "url_path": text(get(doc, "url.path")),
        "url_query": text(get(doc, "url.query")),
        "server_port": integral(get(doc, "url.port")),
        "status_code": integral(get(doc, "http.response.status_code")),
        "request_bytes": integral(get(doc, "http.request.bytes")),
        "response_bytes": integral(get(doc, "http.response.bytes")),
        "content_type": text(get(doc, "http.response.mime_type")),
        "user_agent": text(_umbrella_null(get(doc, "user_agent.original"))),
        "referer": text(get(doc, "http.request.referrer")),
        # SEKOIA lower-cases Umbrella's verdict (ALLOWED -> allowed).
        "proxy_action": None if reason is None else str(reason).upper(),
        **_extras(doc, SEKOIA_UMBRELLA_EXTRA),
    }


def sekoia_umbrella(corpus: Path) -> PeerSource:
    tests = _sekoia_tests(corpus, SEKOIA_UMBRELLA_DIR)
    cases = tuple(PeerCase(stem, t["input"]["message"], _sekoia_umbrella_expected(t["expected"])) for stem, t in tests)
    return PeerSource(
        name="sekoia-umbrella",
        description=f"SEKOIA.IO intake-formats `{SEKOIA_UMBRELLA_DIR}/*.json`",
        parser="umbrella-csv",
        options=ParserOptions(),
        fields=tuple(_sekoia_umbrella_expected({})),
        cases=cases,
        not_compared={
            "username": "SEKOIA maps Umbrella's identity to host.name, not to a user",
            "extra:Policy Identity Label": "SEKOIA's host.name is the Policy Identity Label or, when logged, the Hostname column",
        },
    )


#: Our ``extra`` key (the NSS key) -> SEKOIA's field for it.
SEKOIA_ZSCALER_EXTRA: Mapping[str, str] = {
    "appname": "zscaler.zia.appname",
    "department": "zscaler.zia.department",
    "event_id": "zscaler.zia.event_id",
    "location": "zscaler.zia.location",
    "keyprotectiontype": "zscaler.zia.keyprotectiontype",
    "product": "zscaler.zia.product",
    "vendor": "zscaler.zia.vendor",
    "urlcategory": "zscaler.zia.url_category",
    "threatcategory": "zscaler.zia.threat.category",
    "threatclass": "zscaler.zia.threat.class",
    "threatname": "zscaler.zia.threat.name",
    "filetype": "file.type",
    "protocol": "network.protocol",
    "deviceowner": "user.name",
    "hostname": "destination.domain",
}


def _zscaler_null(value: Any) -> Any:
    return None if value is None or str(value).strip() in ZSCALER_NULLS else value


def _sekoia_zscaler_expected(doc: Mapping[str, Any]) -> dict[str, Value]:
    action = get(doc, "event.action")
    return {
        "event_time": _sekoia_time(doc),
        "client_ip": text(get(doc, "source.ip")),
        "server_ip": text(get(doc, "server.ip")),
        # SEKOIA's user.email is NSS's `user` (its user.name is the device owner).
        "username": text(get(doc, "user.email")),
        "http_method": text(get(doc, "http.request.method")),
        "url": text(get(doc, "url.original")),
        "url_host": text(get(doc, "url.domain")),
        "url_path": text(get(doc, "url.path")),
        "url_query": text(get(doc, "url.query")),
        "request_bytes": integral(get(doc, "http.request.bytes")),
        "response_bytes": integral(get(doc, "http.response.bytes")),
        "content_type": text(get(doc, "http.response.mime_type")),
        "user_agent": text(_zscaler_null(get(doc, "user_agent.original"))),
        "referer": text(_zscaler_null(get(doc, "http.request.referrer"))),
        # SEKOIA lower-cases NSS's action (Allowed -> allowed).
        "proxy_action": None if action is None else str(action).capitalize(),
        **_extras(doc, SEKOIA_ZSCALER_EXTRA, ZSCALER_NULLS),
    }


def sekoia_zscaler(corpus: Path) -> PeerSource:
    tests = _sekoia_tests(corpus, SEKOIA_ZSCALER_DIR)
    cases = tuple(PeerCase(stem, t["input"]["message"], _sekoia_zscaler_expected(t["expected"])) for stem, t in tests)
    return PeerSource(
        name="sekoia-zscaler",
        description=f"SEKOIA.IO intake-formats `{SEKOIA_ZSCALER_DIR}/*.json` (web feed compared; the other feeds are rejects)",
        parser="zscaler-nss",
        options=ParserOptions(tz="UTC"),
        fields=tuple(_sekoia_zscaler_expected({})),
        cases=cases,
        not_compared={
            "status_code": "SEKOIA's Zscaler intake sets no http.response.status_code, even for status 200",
            "url_scheme": "NSS's url has no scheme and SEKOIA sets no url.scheme",
        },
    )


def _sekoia_clf_expected(doc: Mapping[str, Any]) -> dict[str, Value]:
    expected = {
        "event_time": _sekoia_time(doc),
        "client_ip": text(get(doc, "source.ip")),
        "username": text(get(doc, "user.name")),
        "http_method": text(get(doc, "http.request.method")),
        "url": text(get(doc, "url.original")),
        "status_code": integral(get(doc, "http.response.status_code")),
    }
    if expected["url"] is None and expected["http_method"] == "CONNECT":
        del expected["url"]  # SEKOIA splits a CONNECT target into destination.*, the logged text is not kept
    return expected


def sekoia_squid_clf(corpus: Path) -> PeerSource:
    tests = _sekoia_tests(corpus, SEKOIA_SQUID_DIR, "common_log_format_*.json")
    cases = tuple(PeerCase(stem, t["input"]["message"], _sekoia_clf_expected(t["expected"])) for stem, t in tests)
    return PeerSource(
        name="sekoia-squid-clf",
        description=f"SEKOIA.IO intake-formats `{SEKOIA_SQUID_DIR}/common_log_format_*.json`, read as `clf`",
        parser="clf",
        options=ParserOptions(),
        fields=tuple(_sekoia_clf_expected({})),
        cases=cases,
    )


# --- raw-only files --------------------------------------------------------------------------

_ELFF_TOKEN = re.compile(r'"(?:[^"]|"")*"|\S+')


def elff_tokens(line: str) -> list[str]:
    """An ELFF data line split into fields: runs of spaces separate, ``"..."`` is one field (quotes removed)."""
    return [t[1:-1].replace('""', '"') if t.startswith('"') else t for t in _ELFF_TOKEN.findall(line)]


def elff_records(text_: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, {ELFF field name: raw value}) for each data line, from the ``#Fields:`` lines."""
    names: list[str] = []
    records = []
    for number, line in enumerate(text_.splitlines(), start=1):
        if line.startswith("#Fields:"):
            names = line.removeprefix("#Fields:").split()
        elif line.strip() and not line.startswith("#"):
            values = elff_tokens(line)
            if len(values) != len(names):
                raise ValueError(f"line {number}: {len(values)} values for {len(names)} #Fields")
            records.append((number, dict(zip(names, values, strict=True))))
    return records


def elff_expected(record: Mapping[str, str]) -> dict[str, Value]:
    """What a line's own tokens say for the columns an ELFF reader must fill (``-`` is null)."""

    def col(name: str) -> Any:
        return _dash(record.get(name))

    when = datetime.fromisoformat(f"{record['date']}T{record['time']}").replace(tzinfo=UTC)
    content_type = col("rs(Content-Type)")
    return {
        "event_time": instant(when),
        "duration_ms": integral(col("time-taken")),
        "client_ip": text(col("c-ip")),
        "username": text(col("cs-username")),
        "status_code": integral(col("sc-status")),
        "proxy_action": text(col("s-action")),
        "http_method": text(col("cs-method")),
        "url_scheme": text(col("cs-uri-scheme")),
        "url_host": text(col("cs-host")),
        "url_path": text(col("cs-uri-path")),
        "url_query": None if col("cs-uri-query") is None else str(col("cs-uri-query")).removeprefix("?"),
        "response_bytes": integral(col("sc-bytes")),
        "request_bytes": integral(col("cs-bytes")),
        "content_type": None if content_type is None else content_type.split(";")[0].strip().lower(),
        "user_agent": text(col("cs(User-Agent)")),
    }


#: Canonical column -> the keys Zscaler NSS web feeds use for it (Zscaler's Splunk feed format,
#: as in SEKOIA's tests, and the shorter names of Elastic's recommended feed format).
ZSCALER_KEYS: Mapping[str, tuple[str, ...]] = {
    "client_ip": ("ClientIP", "cip"),
    "server_ip": ("serverip", "sip"),
    "username": ("user", "login"),
    "http_method": ("requestmethod", "reqmethod"),
    "status_code": ("status", "respcode"),
    "request_bytes": ("requestsize", "reqsize"),
    "response_bytes": ("responsesize", "respsize"),
    "user_agent": ("useragent", "ua"),
    "url": ("url", "eurl"),
    "proxy_action": ("action",),
}

#: Values NSS writes for "no value".
ZSCALER_NULLS = frozenset({"", "None", "NA", "N/A"})


def zscaler_event(line: str) -> dict[str, Any]:
    """The NSS record of a feed line, unwrapped from ``{"sourcetype":..,"event":{..}}``."""
    doc = json.loads(line)
    event = doc.get("event", doc) if isinstance(doc, dict) else {}
    return dict(event) if isinstance(event, dict) else {}


def zscaler_expected(event: Mapping[str, Any]) -> dict[str, Value]:
    """What a line's own JSON says for the columns we can check (NSS null words are null)."""
    out: dict[str, Value] = {}
    for column, keys in ZSCALER_KEYS.items():
        key = next((k for k in keys if k in event), None)
        if key is None or event[key] in ZSCALER_NULLS:
            continue
        value = event[key]
        out[column] = integral(value) if column in ("status_code", "request_bytes", "response_bytes") else str(value)
    if "time" in event:  # "Fri Dec 31 07:07:07 2021", UTC for the feed we configure (tz="UTC")
        out["event_time"] = instant(datetime.strptime(event["time"], "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC))
    elif "datetime" in event:
        out["event_time"] = instant(datetime.fromisoformat(event["datetime"]).replace(tzinfo=UTC))
    return out
