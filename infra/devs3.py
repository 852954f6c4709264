"""A local S3 for tests and development: moto's server on loopback, over real HTTP.

moto does not verify uploaded checksums, gives multipart uploads no lock and lets a
COMPLIANCE retention be shortened, so tests that rely on it are contract tests: our own
SHA-256 checks are what catch corruption.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Credentials moto accepts; never real ones.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "proxyvault-test",
    "AWS_SECRET_ACCESS_KEY": "proxyvault-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1 at a free port; yield its endpoint URL.

    Also sets dummy AWS credentials in the environment (restored afterwards) so boto3's
    standard chain finds them and never a developer's real ones.
    """
    from moto.server import ThreadedMotoServer  # a test dependency, imported only here

    saved = {name: os.environ.get(name) for name in DUMMY_CREDENTIALS}
    os.environ.update(DUMMY_CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
