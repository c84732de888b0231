"""A throw-away PostgreSQL server for the tests and the benchmark (Debian ``postgresql``).

:class:`TempPostgres` runs ``initdb`` and ``pg_ctl`` from the Debian package in a
temporary data directory, listening only on 127.0.0.1 on a free port (no Unix socket
outside the data directory), with ``trust`` authentication for that address.  Both
programs refuse to run as root: as root they run as the unprivileged ``nobody`` with
``runuser``, and the data directory belongs to it.  :func:`require_postgres` skips a
test without the package, and fails instead under SIPREF_REQUIRE_EXTERNAL=1.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from rfc3261.asyncio.loopback import free_port
from rfc3261.tests.transport_support import missing_external

__all__ = ["TempPostgres", "find_postgres_bin", "require_postgres"]

PACKAGE = "postgresql"


def find_postgres_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl`` (Debian keeps them out of PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def require_postgres() -> Path:
    """The PostgreSQL binaries; skip (or fail under SIPREF_REQUIRE_EXTERNAL=1) without them."""

    where = find_postgres_bin()
    reason = None
    if where is None:
        reason = f"PostgreSQL not found (Debian package {PACKAGE})"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        reason = "running as root without runuser: initdb refuses root"
    if reason is None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            reason = "psycopg not installed (pip install -e '.[postgresql]')"
    if reason is not None:
        missing_external(reason)
    assert where is not None
    return where


class TempPostgres:
    """One PostgreSQL server in a temporary folder; :meth:`start`, :meth:`stop`, :meth:`close`."""

    def __init__(self, bindir: Path, *, fsync: bool = False) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="sipref-pg-"))
        self.data = self.tmp / "data"
        self.log = self.tmp / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            # The unprivileged user must reach and own its folder.
            os.chmod(self.tmp, 0o755)
            shutil.chown(self.tmp, "nobody")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.data}'\n"
                # Test servers: no fsync (a crash of the test machine loses nothing we keep).
                f"fsync = {'on' if fsync else 'off'}\nmax_connections = 50\n"
            )

    @property
    def conninfo(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self._as_root:
            command = ["runuser", "-u", "nobody", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60, cwd=self.tmp)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def wait_ready(self, timeout: float = 10.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.conninfo, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
