"""URL splitting for every URL shape Squid logs."""

from __future__ import annotations

import polars as pl
import pytest

from transforms.normalize import DEFAULT_PORTS, split_url


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "path", "query"),
    [
        pytest.param("http://a.example/p/q?x=1&y", "http", "a.example", None, "/p/q", "x=1&y", id="absolute"),
        pytest.param("HTTPS://A.example:8443/", "https", "A.example", "8443", "/", None, id="upper-case scheme, port"),
        pytest.param("http://a.example", "http", "a.example", None, None, None, id="no path is null"),
        pytest.param("a.example:443", None, "a.example", "443", None, None, id="CONNECT authority"),
        pytest.param("[2001:db8::1]:443", None, "2001:db8::1", "443", None, None, id="CONNECT IPv6"),
        pytest.param("http://[2001:db8::1]:81/x", "http", "2001:db8::1", "81", "/x", None, id="IPv6 absolute"),
        pytest.param("/only/path?q", None, None, None, "/only/path", "q", id="origin form"),
        pytest.param("error:transaction-end-before-headers", None, None, None, None, None, id="error pseudo-URL"),
        pytest.param("\\invalid/url", None, None, None, None, None, id="garbage"),
    ],
)
def test_split_url(url: str, scheme: str | None, host: str | None, port: str | None, path: str | None, query: str | None) -> None:
    parts = split_url(pl.col("url"))
    row = pl.DataFrame({"url": [url]}).select(**parts).row(0, named=True)
    assert (row["url_scheme"], row["url_host"], row["_url_port"], row["url_path"], row["url_query"]) == (scheme, host, port, path, query)


def test_default_ports_are_the_rfc_ones() -> None:
    assert DEFAULT_PORTS["http"] == 80 and DEFAULT_PORTS["https"] == 443
