"""Other parsers' expected output for Squid lines, mapped onto our canonical columns.

Each loader reads one third-party test file from the shared corpus (in place, never
copied into this repository) and returns a :class:`~tests.conformance.peer.PeerSource`
(see ``peer.py`` for the model). Only the mapping lives here; the comparison, the
tallies and the documented differences live in ``test_corpus.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conformance.peer import PeerCase, PeerSource, Value, authority, epoch_ms_instant, get, integral, iso_instant, text
from transforms.parsers import ParserOptions

ELASTIC_DIR = Path("elastic-integrations/packages/squid/data_stream/log/_dev/test/pipeline")
ELASTIC_NATIVE = ELASTIC_DIR / "test-access.log"
ELASTIC_EXTENSIVE = ELASTIC_DIR / "test-access-extensive.log"
DATADOG_YAML = Path("datadog-integrations-core/squid/assets/logs/squid_tests.yaml")
SEKOIA_DIR = Path("sekoia-intake-formats/Squid/squid/tests")

#: Datadog's upstream YAML is malformed after its 13th test (entries at the wrong indent).
DATADOG_TESTS = 13

#: Our reading of the logformat behind Elastic's ``test-access-extensive.log``, worked out
#: from the lines and the expected documents (Elastic's package does not state it):
#: ``%<bs`` is ``http.response.body.bytes``, the four quoted headers are ``http.request.referrer``,
#: ``user_agent.original``, ``squid.host_header`` and ``network.forwarded_ip``; ``%<tt`` is
#: ``squid.server_time``. Three columns are "-" on every line and Elastic maps none of them:
#: they are matched with space-free codes we do not archive (``%err_code``, ``%ssl::bump_mode``,
#: ``%ssl::<negotiated_version``); a code whose value may hold spaces (``%err_detail``) would let
#: the two lines that carry an extra quoted field match with every quoted field shifted.
ELASTIC_EXTENSIVE_LOGFORMAT = (
    "%ts.%03tu %6tr %>a %>p %Ss/%03>Hs %<st %>st %<sh %>sh %<bs %rm %ru %rv %un %Sh/%<a %<p %mt %err_code %ssl::bump_mode "
    '"%{Referer}>h" "%{User-Agent}>h" "%{Host}>h" "%{X-Forwarded-For}>h" %<tt %ssl::<negotiated_version'
)

NATIVE_FIELDS = (
    "event_time",
    "client_ip",
    "http_method",
    "url",
    "status_code",
    "response_bytes",
    "duration_ms",
    "proxy_action",
    "content_type",
    "username",
)
EXTENSIVE_FIELDS = (*NATIVE_FIELDS, "client_port", "server_port", "server_ip", "http_version", "user_agent", "referer")

# --- Elastic (ECS) -----------------------------------------------------------------------


def _elastic_expected(doc: Mapping[str, Any]) -> dict[str, Value]:
    status = get(doc, "http.response.status_code")
    return {
        "event_time": iso_instant(doc["@timestamp"]),
        "client_ip": text(get(doc, "source.ip")),
        "client_port": integral(get(doc, "source.port")),
        "username": text(get(doc, "source.user.name")),
        "http_method": text(get(doc, "http.request.method")),
        "url": text(get(doc, "url.original")),
        "server_ip": text(get(doc, "destination.ip")),
        "server_port": integral(get(doc, "destination.port")),
        "http_version": text(get(doc, "http.version")),
        # Elastic keeps the logged status in squid.status_code and copies it to http.* only when valid.
        "status_code": integral(status if status is not None else get(doc, "squid.status_code")),
        "response_bytes": integral(get(doc, "destination.bytes")),
        "duration_ms": integral(get(doc, "event.duration"), 1_000_000),  # ns -> ms
        "content_type": text(get(doc, "squid.content_type")),
        "user_agent": text(get(doc, "user_agent.original")),
        "referer": text(get(doc, "http.request.referrer")),
        "proxy_action": text(get(doc, "squid.result_code")),
        "proxy_hierarchy": text(get(doc, "squid.peer_status")),
    }


def _elastic_cases(corpus: Path, log: Path) -> tuple[PeerCase, ...]:
    lines = (corpus / log).read_text(encoding="utf-8").splitlines()
    docs = json.loads((corpus / f"{log}-expected.json").read_text(encoding="utf-8"))["expected"]
    if len(docs) != len(lines):
        raise ValueError(f"{log}: {len(lines)} lines but {len(docs)} expected documents")
    cases = []
    for number, (line, doc) in enumerate(zip(lines, docs, strict=True), start=1):
        if doc["event"]["original"] != line:
            raise ValueError(f"{log} line {number}: event.original does not match the raw line")
        cases.append(PeerCase(f"line {number}", line, _elastic_expected(doc)))
    return tuple(cases)


def elastic_native(corpus: Path) -> PeerSource:
    return PeerSource(
        name="elastic-native",
        description=f"Elastic integrations `{ELASTIC_NATIVE}` (native squid format)",
        parser="squid",
        options=ParserOptions(),
        fields=(*NATIVE_FIELDS, "server_ip", "proxy_hierarchy"),
        cases=_elastic_cases(corpus, ELASTIC_NATIVE),
        not_compared={"server_port": "Elastic sets url.port only for explicit ports (2 lines); no destination.port"},
    )


def elastic_extensive(corpus: Path) -> PeerSource:
    return PeerSource(
        name="elastic-extensive",
        description=f"Elastic integrations `{ELASTIC_EXTENSIVE}` (custom logformat, see ELASTIC_EXTENSIVE_LOGFORMAT)",
        parser="squid-logformat",
        options=ParserOptions(logformat=ELASTIC_EXTENSIVE_LOGFORMAT),
        fields=(*EXTENSIVE_FIELDS, "proxy_hierarchy"),
        cases=_elastic_cases(corpus, ELASTIC_EXTENSIVE),
    )


# --- Datadog -------------------------------------------------------------------------------


def datadog_tests(yaml_text: str, count: int = DATADOG_TESTS) -> list[dict[str, Any]]:
    """The first ``count`` tests of Datadog's pipeline test YAML.

    The upstream file is malformed after the 13th test (list items at a deeper indent),
    so the text is cut before the first list marker that follows the ``count``-th test
    and is not at the tests' own indent.
    """
    lines = yaml_text.splitlines()
    markers = [i for i, line in enumerate(lines) if re.fullmatch(r" -\s*", line)]
    if len(markers) < count:
        raise ValueError(f"Datadog YAML has {len(markers)} tests at the top indent, expected at least {count}")
    start = markers[count - 1]
    end = next((i for i in range(start + 1, len(lines)) if re.fullmatch(r"\s*-\s*", lines[i])), len(lines))
    tests = yaml.safe_load("\n".join(lines[:end]))["tests"]
    if len(tests) != count:
        raise ValueError(f"parsed {len(tests)} Datadog tests, expected {count}")
    return list(tests)


def _datadog_expected(result: Mapping[str, Any]) -> dict[str, Value]:
    custom = result["custom"]
    protocol, status = get(custom, "network.protocol"), get(custom, "squid.status")
    url = get(custom, "http.url")
    if url is None and get(custom, "http.method") == "CONNECT":
        # Datadog drops http.url for CONNECT and keeps the target split in url_details.
        url = authority(get(custom, "http.url_details.host"), get(custom, "http.url_details.port"), get(custom, "http.url_details.path"))
    return {
        "event_time": epoch_ms_instant(result["timestamp"]),
        "client_ip": text(get(custom, "network.client.ip")),
        "http_method": text(get(custom, "http.method")),
        "url": text(url),
        "server_ip": text(get(custom, "network.destination.ip")),
        "status_code": integral(get(custom, "http.status_code")),
        "response_bytes": integral(get(custom, "network.bytes_written")),
        "duration_ms": integral(get(custom, "duration"), 1_000_000),  # ns -> ms
        "content_type": text(get(custom, "http.resource.content_type")),
        # Datadog splits TCP_MISS into network.protocol "TCP" and squid.status "MISS".
        "proxy_action": f"{protocol}_{status}" if protocol and status else None,
        "proxy_hierarchy": text(get(custom, "squid.peer_status")),
    }


def datadog(corpus: Path) -> PeerSource:
    tests = datadog_tests((corpus / DATADOG_YAML).read_text(encoding="utf-8"))
    cases = tuple(PeerCase(f"test {n}", t["sample"], _datadog_expected(t["result"])) for n, t in enumerate(tests, start=1))
    return PeerSource(
        name="datadog",
        description=f"Datadog integrations-core `{DATADOG_YAML}` (first {DATADOG_TESTS} tests)",
        parser="squid",
        options=ParserOptions(),
        fields=tuple(f for f in (*NATIVE_FIELDS, "server_ip", "proxy_hierarchy") if f != "username"),
        cases=cases,
        not_compared={
            "username": "every sample logs '-' and Datadog's attribute for a user is not shown by any test",
            "server_port": "Datadog sets url_details.port only for an explicit port",
        },
    )


# --- SEKOIA.IO -------------------------------------------------------------------------------


def _sekoia_expected(doc: Mapping[str, Any]) -> dict[str, Value]:
    timestamp = get(doc, "@timestamp")
    url = get(doc, "url.original")
    if url is None and get(doc, "http.request.method") == "CONNECT":
        # SEKOIA writes a CONNECT target to destination.address/port, not to url.original.
        url = authority(get(doc, "destination.address"), get(doc, "destination.port"))
    return {
        "event_time": None if timestamp is None else iso_instant(timestamp),
        "client_ip": text(get(doc, "source.ip")),
        "username": text(get(doc, "user.name")),
        "http_method": text(get(doc, "http.request.method")),
        "url": text(url),
        "server_port": integral(get(doc, "url.port") or get(doc, "destination.port")),
        "status_code": integral(get(doc, "http.response.status_code")),
        "response_bytes": integral(get(doc, "http.response.bytes")),
        "duration_ms": integral(get(doc, "event.duration")),  # SEKOIA keeps Squid's milliseconds
        "content_type": text(get(doc, "http.response.mime_type")),
        "user_agent": text(get(doc, "user_agent.original")),
        "referer": text(get(doc, "http.request.referrer")),
        "proxy_hierarchy": text(get(doc, "squid.hierarchy_code")),
    }


def sekoia(corpus: Path) -> PeerSource:
    cases = []
    for path in sorted((corpus / SEKOIA_DIR).glob("*.json")):
        test = json.loads(path.read_text(encoding="utf-8"))
        cases.append(PeerCase(path.stem, test["input"]["message"], _sekoia_expected(test["expected"])))
    fields = tuple(f for f in NATIVE_FIELDS if f != "proxy_action")
    return PeerSource(
        name="sekoia",
        description=f"SEKOIA.IO intake-formats `{SEKOIA_DIR}/*.json`",
        parser="squid",
        options=ParserOptions(),
        fields=(*fields, "server_port", "user_agent", "referer", "proxy_hierarchy"),
        cases=tuple(cases),
        not_compared={
            "proxy_action": "SEKOIA keeps only a lower-cased cache class (squid.cache_status: miss/hit/denied)",
            "server_ip": "SEKOIA's destination.ip mixes the URL host and the hierarchy peer",
        },
    )
