"""A real Squid on loopback writes the logs; ``proxyvault normalize`` must read back what was sent.

One module-scoped scenario (about 3 s, most of it Squid's shutdown): a local origin
server, Squid from :mod:`infra.squid` logging with ``logformat vault`` (RECOMMENDED)
and the native ``squid`` format, and known requests sent through it:

* GET /page (200, text/html; charset=utf-8, 1234 bytes), User-Agent with quotes, a
  backslash, a tab, ``%20`` and UTF-8 (é, €), Referer with quotes and a query;
* POST /upload with a 5000-byte body (201, application/octet-stream);
* GET /missing (404, ``Text/Plain; Charset=US-ASCII``, to check lower-casing), no
  User-Agent and no Referer at all;
* GET /page with a User-Agent holding one raw Latin-1 byte (not UTF-8);
* CONNECT 127.0.0.1:<origin port> and a GET /page inside the tunnel;
* a connection closed before any request (what port probes and health checks do).

Squid is stopped before the logs are read, so they are complete. Skipped only when
Squid is not installed; with ``PROXYVAULT_REQUIRE_SQUID=1`` (CI) that is a failure.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from infra.squid import LOGFORMAT_NAME, SquidInstance, find_squid, running_squid
from proxyvault.cli import main

PAGE_BODY = b"<!doctype html><title>proxyvault</title>" + b"x" * (1234 - 40)
UPLOAD_REPLY = b"stored\n" * 11  # 77 bytes
MISSING_BODY = b"no such page\n"
UPLOAD_BODY = bytes(range(256)) * 19 + b"y" * 136  # 5000 bytes
TIMEOUT = 10.0

# The User-Agent / Referer values, as sent (str values are sent as UTF-8).
TRICKY_UA = 'Mozilla/5.0 (X11; "quoted" back\\slash\ttab pct%20x café €)'
TRICKY_REFERER = 'http://referer.test/from?x=1&q="a b"'
LATIN1_UA = b"latin1-caf\xe9"
TUNNEL_UA = "tunnel-agent/1.0"


class Origin(BaseHTTPRequestHandler):
    """Answers with known status, content type and body size; keeps connections alive."""

    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/page":
            self._reply(200, "text/html; charset=utf-8", PAGE_BODY)
        else:
            self._reply(404, "Text/Plain; Charset=US-ASCII", MISSING_BODY)

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        assert received == UPLOAD_BODY
        self._reply(201, "application/octet-stream", UPLOAD_REPLY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Sent:
    """One request sent through Squid and what the origin answered."""

    method: str
    url: str
    status: int
    content_type: str | None
    response_body: int
    request_body: int = 0
    user_agent: str | bytes | None = None
    referer: str | None = None
    client_port: int = 0
    expected_user_agent: str | None = None  # when the archived value differs from what was sent


@dataclass
class Scenario:
    squid: SquidInstance
    origin_port: int
    sent: list[Sent]
    probe_port: int
    started: datetime
    finished: datetime
    workdir: Path
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def squid_binary() -> Path:
    binary = find_squid()
    if binary is None:
        reason = "squid is not installed (not on PATH, no /usr/sbin/squid); apt-get install squid to run this test"
        if os.environ.get("PROXYVAULT_REQUIRE_SQUID") == "1":
            pytest.fail(f"PROXYVAULT_REQUIRE_SQUID=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


def _send(proxy: SquidInstance, request: Sent, body: bytes = b"") -> None:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    try:
        conn.connect()
        request.client_port = conn.sock.getsockname()[1]
        conn.putrequest(request.method, request.url, skip_accept_encoding=True)
        if request.user_agent is not None:
            conn.putheader("User-Agent", request.user_agent if isinstance(request.user_agent, bytes) else request.user_agent.encode())
        if request.referer is not None:
            conn.putheader("Referer", request.referer.encode())
        if body:
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        received = response.read()
        assert (response.status, len(received)) == (request.status, request.response_body), request
    finally:
        conn.close()


def _send_tunnel(proxy: SquidInstance, origin_port: int, request: Sent) -> None:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    assert isinstance(request.user_agent, str)
    conn.set_tunnel("127.0.0.1", origin_port, headers={"User-Agent": request.user_agent})
    try:
        conn.connect()  # sends CONNECT and reads Squid's 200
        request.client_port = conn.sock.getsockname()[1]
        conn.request("GET", "/page", headers={"User-Agent": "inside-the-tunnel"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, PAGE_BODY)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def scenario(squid_binary: Path) -> Iterator[Scenario]:
    # Not tmp_path: Squid started as root drops to 'proxy', which cannot enter /tmp/pytest-of-root.
    workdir = Path(tempfile.mkdtemp(prefix="proxyvault-squid-"))
    origin = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    origin.daemon_threads = True
    threading.Thread(target=origin.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    origin_port = origin.server_address[1]
    base = f"http://127.0.0.1:{origin_port}"
    sent = [
        Sent("GET", f"{base}/page?q=1&lang=fr", 200, "text/html", len(PAGE_BODY), user_agent=TRICKY_UA, referer=TRICKY_REFERER),
        Sent(
            "POST",
            f"{base}/upload",
            201,
            "application/octet-stream",
            len(UPLOAD_REPLY),
            request_body=len(UPLOAD_BODY),
            user_agent="curl/8.5.0",
            referer=f"{base}/form",
        ),
        Sent("GET", f"{base}/missing", 404, "text/plain", len(MISSING_BODY)),
        # Squid logs the raw byte; the reader decodes the non-UTF-8 line with a \xNN escape.
        Sent("GET", f"{base}/page", 200, "text/html", len(PAGE_BODY), user_agent=LATIN1_UA, expected_user_agent="latin1-caf\\xe9"),
    ]
    tunnel = Sent("CONNECT", f"127.0.0.1:{origin_port}", 200, None, len(PAGE_BODY), user_agent=TUNNEL_UA)
    try:
        with running_squid(workdir, binary=squid_binary, strip_query_terms=False) as squid:
            started = datetime.now(UTC)
            _send(squid, sent[0])
            _send(squid, sent[1], UPLOAD_BODY)
            _send(squid, sent[2])
            _send(squid, sent[3])
            _send_tunnel(squid, origin_port, tunnel)
            with socket.create_connection((squid.host, squid.port), timeout=TIMEOUT) as probe:
                probe_port = probe.getsockname()[1]
            squid.wait_for_log_lines(len(sent) + 2, timeout=TIMEOUT)
        finished = datetime.now(UTC)  # squid has stopped: both logs are complete and closed
        yield Scenario(squid, origin_port, [*sent, tunnel], probe_port, started, finished, workdir)
    finally:
        origin.shutdown()
        origin.server_close()
        shutil.rmtree(workdir, ignore_errors=True)


def _normalize(scenario: Scenario, capsys: pytest.CaptureFixture[str], log: Path, *format_args: str) -> tuple[dict[str, Any], pl.DataFrame]:
    out = scenario.workdir / f"out-{log.stem}"
    capsys.readouterr()
    assert main(["normalize", *format_args, "--source", log.stem, "--out", str(out), str(log)]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    events = pl.read_parquet(summary["files"][0]["events_path"]).sort("source_line")
    return summary, events


def _normalize_vault(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], pl.DataFrame]:
    conf = ["--format", "squid-logformat", "--squid-conf", str(scenario.squid.conf_path), "--logformat-name", LOGFORMAT_NAME]
    return _normalize(scenario, capsys, scenario.squid.access_log_path, *conf)


def test_every_line_becomes_a_row(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    summary, events = _normalize_vault(scenario, capsys)
    totals = summary["totals"]
    assert totals["lines_in"] == len(scenario.sent) + 1 == totals["rows_out"] == events.height
    assert (totals["rejects_out"], totals["skipped"], totals["reconciled"]) == (0, 0, True)
    assert totals["reencoded_lines"] == 1  # the Latin-1 User-Agent line


def test_rows_match_what_was_sent(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    _, events = _normalize_vault(scenario, capsys)
    rows = {row["client_port"]: row for row in events.to_dicts()}
    window = (scenario.started - timedelta(milliseconds=1), scenario.finished)  # %ts.%03tu truncates to ms
    for sent in scenario.sent:
        row = rows[sent.client_port]
        tunnel = sent.method == "CONNECT"
        expected = {
            "http_method": sent.method,
            "url": sent.url,
            "url_scheme": None if tunnel else "http",
            "url_host": "127.0.0.1",
            "url_path": None if tunnel else sent.url.split(str(scenario.origin_port), 1)[1].split("?")[0],
            "url_query": sent.url.split("?", 1)[1] if "?" in sent.url else None,
            "status_code": sent.status,
            "content_type": sent.content_type,
            "user_agent": sent.expected_user_agent or sent.user_agent,
            "referer": sent.referer,
            "client_ip": "127.0.0.1",
            "client_port": sent.client_port,
            "server_ip": "127.0.0.1",
            "server_port": scenario.origin_port,
            "http_version": "1.0" if tunnel else "1.1",  # http.client tunnels with "CONNECT h:p HTTP/1.0"
            "username": None,
            "proxy_action": "TCP_TUNNEL" if tunnel else "TCP_MISS",
            "proxy_hierarchy": "HIER_DIRECT",
        }
        assert {k: row[k] for k in expected} == expected, sent
        assert row["response_bytes"] > sent.response_body  # %<st counts the reply headers too
        assert row["request_bytes"] > sent.request_body  # %>st counts the request line and headers
        assert row["duration_ms"] >= 0
        assert window[0] <= row["event_time"] <= window[1]
        assert row["event_time"].tzinfo is not None and row["event_time"].utcoffset() == timedelta(0)


def test_connection_closed_before_a_request_is_a_row(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    """Squid logs ``NONE_NONE/000 0 0 - error:transaction-end-before-headers 0.0 ...``."""
    _, events = _normalize_vault(scenario, capsys)
    probe = events.filter(pl.col("client_port") == scenario.probe_port).to_dicts()
    assert len(probe) == 1
    expected = {
        "proxy_action": "NONE_NONE",
        "status_code": 0,
        "http_method": None,
        "url": "error:transaction-end-before-headers",
        "url_host": None,
        "http_version": "0.0",
        "response_bytes": 0,
        "request_bytes": 0,
        "server_ip": None,
        "user_agent": None,
    }
    assert {k: probe[0][k] for k in expected} == expected


def test_squid_escaping_in_quoted_header_fields(scenario: Scenario) -> None:
    """How Squid 5 writes a header inside literal quotes in the logformat ("%{User-Agent}>h").

    The quotes switch the field to Squid's quoted-string encoding: ``"`` -> ``\\"``,
    ``\\`` -> ``\\\\``, tab/CR/LF -> ``\\t``/``\\r``/``\\n``; spaces, ``%`` and every other byte
    (UTF-8, raw Latin-1, control bytes) are written unchanged. A missing header is ``"-"``.
    """
    raw = scenario.squid.access_log_path.read_bytes().split(b"\n")
    assert b'"Mozilla/5.0 (X11; \\"quoted\\" back\\\\slash\\ttab pct%20x caf\xc3\xa9 \xe2\x82\xac)"' in raw[0]
    assert b'"http://referer.test/from?x=1&q=\\"a b\\""' in raw[0]
    assert raw[2].endswith(b' "-" "-"')
    assert raw[3].endswith(b'"-" "latin1-caf\xe9"')


def test_native_log_agrees(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    native_log = scenario.squid.native_log_path
    assert native_log is not None
    _, vault = _normalize_vault(scenario, capsys)
    summary, native = _normalize(scenario, capsys, native_log, "--format", "squid")
    totals = summary["totals"]
    assert (totals["lines_in"], totals["rows_out"], totals["rejects_out"]) == (vault.height, vault.height, 0)
    # Each transaction is written to both logs at once, so line N is the same request in both.
    shared = [
        "source_line",
        "event_time",
        "duration_ms",
        "client_ip",
        "proxy_action",
        "status_code",
        "response_bytes",
        "http_method",
        "url",
        "url_scheme",
        "url_host",
        "url_path",
        "url_query",
        "username",
        "proxy_hierarchy",
        "server_ip",
        "server_port",
        "content_type",
    ]
    assert native.select(shared).to_dicts() == vault.select(shared).to_dicts()
    # What the native format does not log stays null rather than guessed.
    for column in ("client_port", "request_bytes", "http_version", "user_agent", "referer"):
        assert native[column].null_count() == native.height, column


def _completeness(scenario: Scenario, capsys: pytest.CaptureFixture[str], log: Path, *format_args: str) -> dict[str, Any]:
    capsys.readouterr()
    window = ["--window-start", scenario.started.isoformat(), "--window-end", scenario.finished.isoformat()]
    code = main(["completeness", "--json", *format_args, *window, "--source", log.stem, str(log)])
    (report,) = json.loads(capsys.readouterr().out)
    assert code == (1 if report["status"] == "failed" else 0)
    return dict(report)


def test_native_log_is_reported_with_exactly_what_it_lacks(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    native_log = scenario.squid.native_log_path
    assert native_log is not None
    report = _completeness(scenario, capsys, native_log, "--format", "squid")
    assert report["not_logged_by_this_source"] == ["http_version", "user_agent", "referer", "client_port"]
    assert report["advice"].startswith("format squid does not log http_version, user_agent, referer, client_port: use logformat vault '")
    rows = {row["field"]: row for row in report["completeness"]}
    assert [f for f, row in rows.items() if row["status"] == "not logged"] == report["not_logged_by_this_source"]
    # every request went to the origin, so each carried field is present except on the probe's row
    assert rows["client_ip"]["present"] == rows["client_ip"]["rows"] == len(scenario.sent) + 1
    assert rows["url_host"]["present"] == len(scenario.sent)
    # Squid's clock is this machine's: nothing outside the window, nothing in the future
    assert not any(f.startswith("clock:") for f in report["failures"])


def test_vault_log_lacks_nothing(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    conf = ["--format", "squid-logformat", "--squid-conf", str(scenario.squid.conf_path), "--logformat-name", LOGFORMAT_NAME]
    report = _completeness(scenario, capsys, scenario.squid.access_log_path, *conf)
    assert report["not_logged_by_this_source"] == [] and report["advice"] is None
    rows = {row["field"]: row for row in report["completeness"]}
    assert rows["user_agent"]["present"] == len(scenario.sent) - 1  # GET /missing sent none
    assert rows["client_port"]["present"] == rows["client_port"]["rows"]
