"""A real Squid on loopback, as a local dev service for integration tests and experiments.

:func:`running_squid` writes a minimal ``squid.conf`` into a work directory, starts
``squid -N`` (foreground, no daemon) on ``127.0.0.1:<free port>`` and stops it on exit,
after which every access-log line has been written and the file is closed::

    with running_squid(workdir) as squid:
        ...  # send requests through squid.proxy_url
    lines = squid.access_log_path.read_text().splitlines()

The access log is written with ``logformat vault`` =
:data:`transforms.parsers.squid_logformat.RECOMMENDED`; a second log in Squid's native
``squid`` format is written too unless ``native_log=False``. ``logfile_rotate 0`` is set, so
:meth:`SquidInstance.rotate` only makes Squid reopen its logs (move the file away first).

Squid started as root drops privileges to ``cache_effective_user`` (``proxy`` on Debian):
the work directory is then chowned to that user, and every directory above it must be
traversable by that user (``tempfile.mkdtemp()`` under ``/tmp`` is; pytest's ``tmp_path``
is not, because ``/tmp/pytest-of-root`` is private).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from transforms.parsers.squid_logformat import RECOMMENDED

#: Name of the ``logformat`` line the generated squid.conf defines for the access log.
LOGFORMAT_NAME = "vault"
#: User Squid drops to when started as root (Debian's packaged default).
DEFAULT_EFFECTIVE_USER = "proxy"
LOOPBACK = "127.0.0.1"
_FALLBACK_BINARY = Path("/usr/sbin/squid")
_READY_MARKER = "Accepting HTTP Socket connections"
_BIND_FAILURE_MARKERS = ("Address already in use", "cannot bind", "commBind", "Cannot open HTTP Port")


class SquidError(RuntimeError):
    """Squid could not be found, configured, started or stopped; the message says why."""


def find_squid() -> Path | None:
    """The ``squid`` binary: ``squid`` on ``PATH``, else ``/usr/sbin/squid``, else ``None``."""
    found = shutil.which("squid")
    if found:
        return Path(found)
    if _FALLBACK_BINARY.is_file() and os.access(_FALLBACK_BINARY, os.X_OK):
        return _FALLBACK_BINARY
    return None


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that was free a moment ago (Squid refuses ``http_port ...:0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def render_conf(
    workdir: Path,
    port: int,
    *,
    logformat: str = RECOMMENDED,
    native_log: bool = True,
    strip_query_terms: bool = True,
    effective_user: str | None = None,
) -> str:
    """The squid.conf text :func:`running_squid` uses: loopback only, no disk cache, no DNS.

    ``strip_query_terms`` is Squid's own default (``on``: ``%ru`` logs ``/page?`` for
    ``/page?q=1``); turn it off to log query strings.
    """
    lines = [
        "# Written by infra/squid.py: a throwaway Squid on loopback for tests.",
        f"http_port {LOOPBACK}:{port}",
        "http_access allow localhost",
        "http_access deny all",
        f"logformat {LOGFORMAT_NAME} {logformat}",
        f"access_log stdio:{workdir / 'access.log'} {LOGFORMAT_NAME}",
    ]
    if native_log:
        lines.append(f"access_log stdio:{workdir / 'access-native.log'} squid")
    lines += [
        "logfile_rotate 0",
        f"strip_query_terms {'on' if strip_query_terms else 'off'}",
        f"cache_log {workdir / 'cache.log'}",
        f"pid_filename {workdir / 'squid.pid'}",
        f"coredump_dir {workdir}",
        "cache deny all",
        "cache_mem 1 MB",
        "memory_pools off",
        "pinger_enable off",
        "icp_port 0",
        "htcp_port 0",
        "digest_generation off",
        # Origins are IP literals on loopback; names come from /etc/hosts, never the network.
        f"dns_nameservers {LOOPBACK}",
        "hosts_file /etc/hosts",
        "shutdown_lifetime 0 seconds",
        "max_filedescriptors 1024",
    ]
    if effective_user:
        lines.append(f"cache_effective_user {effective_user}")
    return "\n".join(lines) + "\n"


@dataclass
class SquidInstance:
    """A running (or, after :func:`running_squid` exits, stopped) Squid and its files."""

    port: int
    workdir: Path
    conf_path: Path
    access_log_path: Path
    native_log_path: Path | None
    cache_log_path: Path
    binary: Path
    logformat_name: str = LOGFORMAT_NAME
    host: str = LOOPBACK
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def proxy_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``urllib.request.ProxyHandler`` and friends."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def control(self, action: str, timeout: float = 10.0) -> None:
        """Run ``squid -k ACTION -f CONF`` (``rotate``, ``reconfigure``, ``shutdown``, ...)."""
        result = subprocess.run(
            [str(self.binary), "-k", action, "-f", str(self.conf_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise SquidError(f"squid -k {action} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def rotate(self, timeout: float = 10.0) -> None:
        """Make Squid reopen its logs (``logfile_rotate 0``: it renames nothing itself)."""
        self.control("rotate", timeout)

    def wait_for_log_lines(self, count: int, path: Path | None = None, timeout: float = 10.0) -> list[str]:
        """Wait until ``path`` (default: the access log) has ``count`` complete lines; return them."""
        target = path or self.access_log_path
        deadline = time.monotonic() + timeout
        while True:
            lines = _complete_lines(target)
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise SquidError(f"{target}: {len(lines)} lines after {timeout:.0f} s, expected {count}")
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """Shut Squid down (SIGTERM, ``shutdown_lifetime 0``) and wait; logs are then flushed and closed."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            raise SquidError(f"squid (pid {process.pid}) did not stop within {timeout:.0f} s and was killed") from None


def _complete_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", errors="backslashreplace").splitlines()[: data.count(b"\n")]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path.name} not written)"


def _check_reachable(workdir: Path, user: pwd.struct_passwd) -> None:
    """Raise unless ``user`` can traverse every directory above ``workdir``."""
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    for directory in workdir.resolve().parents:
        st = directory.stat()
        if st.st_uid == user.pw_uid:
            ok = bool(st.st_mode & stat.S_IXUSR)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & stat.S_IXGRP)
        else:
            ok = bool(st.st_mode & stat.S_IXOTH)
        if not ok:
            raise SquidError(
                f"{directory} is not traversable by '{user.pw_name}', the user Squid drops root privileges to; "
                "use a work directory under a world-traversable path, e.g. tempfile.mkdtemp()"
            )


def _prepare_workdir(workdir: Path, effective_user: str) -> str | None:
    """Create ``workdir``; as root, hand it to ``effective_user``. Return the user to configure."""
    workdir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return None  # Squid runs as the invoking user and needs nothing else
    try:
        user = pwd.getpwnam(effective_user)
    except KeyError:
        raise SquidError(
            f"no user '{effective_user}' for cache_effective_user; pass effective_user= an existing unprivileged user"
        ) from None
    _check_reachable(workdir, user)
    os.chown(workdir, user.pw_uid, user.pw_gid)
    return effective_user


def _start(instance: SquidInstance, timeout: float) -> subprocess.Popen[bytes]:
    """Start ``squid -N`` and wait until cache.log says it accepts connections on our port.

    The wait reads cache.log rather than connecting: Squid logs every connection, even
    one closed before a request (``NONE_NONE/000 ... error:transaction-end-before-headers``).
    """
    stderr_path = instance.workdir / "squid.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(instance.binary), "-N", "-f", str(instance.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,  # a Ctrl-C in the test runner reaches us, not Squid
        )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SquidError(
                f"squid exited with {process.returncode} while starting:\n{_tail(instance.cache_log_path)}\n{_tail(stderr_path)}"
            )
        try:
            log = instance.cache_log_path.read_text(encoding="utf-8", errors="replace")
            accepting = any(_READY_MARKER in line and f"local={instance.host}:{instance.port} " in line for line in log.splitlines())
        except FileNotFoundError:
            accepting = False
        if accepting:
            # No probe connection: Squid would log it (error:transaction-end-before-headers).
            return process
        if time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=5)
            raise SquidError(
                f"squid did not accept connections on port {instance.port} within {timeout:.0f} s:\n{_tail(instance.cache_log_path)}"
            )
        time.sleep(0.05)


@contextmanager
def running_squid(
    workdir: Path,
    *,
    logformat: str = RECOMMENDED,
    native_log: bool = True,
    strip_query_terms: bool = True,
    effective_user: str = DEFAULT_EFFECTIVE_USER,
    binary: Path | None = None,
    start_timeout: float = 15.0,
    stop_timeout: float = 15.0,
    attempts: int = 3,
) -> Iterator[SquidInstance]:
    """Run Squid on ``127.0.0.1:<free port>`` with its conf, logs and pid file in ``workdir``.

    On exit Squid is shut down and waited for, so the logs are complete. ``attempts``
    retries with another port if the chosen one was taken before Squid could bind it.
    """
    squid = binary or find_squid()
    if squid is None:
        raise SquidError("squid is not installed (not on PATH, no /usr/sbin/squid); e.g. apt-get install squid")
    user = _prepare_workdir(workdir, effective_user)
    conf_path = workdir / "squid.conf"
    instance: SquidInstance | None = None
    for attempt in range(1, attempts + 1):
        port = free_port()
        conf_path.write_text(
            render_conf(
                workdir, port, logformat=logformat, native_log=native_log, strip_query_terms=strip_query_terms, effective_user=user
            ),
            encoding="utf-8",
        )
        conf_path.chmod(0o644)  # re-read after privileges are dropped (squid -k reconfigure)
        candidate = SquidInstance(
            port=port,
            workdir=workdir,
            conf_path=conf_path,
            access_log_path=workdir / "access.log",
            native_log_path=workdir / "access-native.log" if native_log else None,
            cache_log_path=workdir / "cache.log",
            binary=squid,
        )
        try:
            candidate._process = _start(candidate, start_timeout)
        except SquidError as exc:
            if attempt < attempts and any(m in str(exc) for m in _BIND_FAILURE_MARKERS):
                continue
            raise
        instance = candidate
        break
    assert instance is not None
    try:
        yield instance
    finally:
        instance.stop(stop_timeout)
