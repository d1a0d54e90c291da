"""A real PostgreSQL server for the tests: initdb in a temporary directory, postgres on a free
port of 127.0.0.1 (its unix socket in that directory too), stopped, killed or restarted on
demand.

Debian's server binaries are looked for in /usr/lib/postgresql/<version>/bin, then on PATH.
PostgreSQL refuses to run as root: under root, the server runs as the ``postgres`` user that
Debian's package creates.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

SUPERUSER = "partnerbrief"


def server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, newest version first; None if not installed."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in found:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One throw-away cluster; ``url(db)`` names a database on it."""

    def __init__(self, bindir: Path) -> None:
        self._bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="partnerbrief-pg-"))
        self.datadir = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._as_user: Callable[[], None] | None = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

            def drop_root() -> None:
                os.setgid(owner.pw_gid)
                os.setuid(owner.pw_uid)

            self._as_user = drop_root
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self._bindir / tool), *args],
            capture_output=True,
            text=True,
            check=check,
            preexec_fn=self._as_user,
            timeout=120,
        )

    def start(self, *, durable: bool = False) -> None:
        # fsync=off only skips flushing the kernel's cache: a killed server still keeps every
        # commit it acknowledged (synchronous_commit stays on), which the tests rely on.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients and shuts down cleanly; ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """kill -9 of the postmaster, as a crashed or unplugged server."""
        pid_file = self.datadir / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 9)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                os.kill(pid, 0)
                time.sleep(0.05)
                continue
            break
        # The children notice their postmaster is gone and exit; give them the port back.
        while time.monotonic() < deadline and not self._port_free():
            time.sleep(0.05)
        pid_file.unlink(missing_ok=True)

    def _port_free(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) != 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
