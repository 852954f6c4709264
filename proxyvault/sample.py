"""Deterministic synthetic Squid logs for the demo and the benchmark.

Same seed, same bytes. Lines cover what real logs hold: CONNECT tunnels, cache hits
with ``NONE/-``, status ``000`` aborts, ``error:`` pseudo-URLs, IPv6 clients, runs of
spaces from Squid's padding, non-ASCII user agents and, on request, damaged lines.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
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


LINE_WRITERS = {"squid": squid_native_line, "squid-recommended": squid_recommended_line}
assert RECOMMENDED.count("%") == 19  # squid_recommended_line writes these 19 fields


def generate_lines(kind: str, count: int, seed: int = 7, damaged_every: int = 0) -> Iterator[str]:
    """Yield ``count`` lines of ``kind`` (``squid`` or ``squid-recommended``)."""
    write = LINE_WRITERS[kind]
    rng = random.Random(seed)
    for i in range(count):
        if damaged_every and i % damaged_every == damaged_every - 1:
            yield rng.choice(
                [
                    "1790000000.123 42 10.0.0.1 TCP_MISS/200",
                    "garbage line without fields",
                    "abc.def 5 10.0.0.1 TCP_MISS/200 1 GET http://x/ - HIER_NONE/- -",
                ]
            )
            continue
        yield write(_record(rng, i))


def write_sample(path: Path, kind: str, count: int, seed: int = 7, damaged_every: int = 0) -> Path:
    """Write a sample log file (plain text, one line per record) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for line in generate_lines(kind, count, seed, damaged_every):
            f.write(line + "\n")
    return path
