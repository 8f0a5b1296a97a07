"""A private PostgreSQL cluster (``initdb`` + ``pg_ctl``) on a free loopback port, that a test can
stop and start again: a real database outage. As root, the cluster runs as the ``postgres`` user
(``initdb`` refuses root)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .._requires import require_binary

__all__ = ["PostgresCluster"]


class PostgresCluster:
    def __init__(self) -> None:
        self.initdb = require_binary("initdb")
        self.pg_ctl = require_binary("pg_ctl")
        # A directory of its own under the system's temporary directory: pytest's are private to
        # root, which the postgres user could not enter.
        self.workdir = Path(tempfile.mkdtemp(prefix="keel-pg-"))
        self.data = self.workdir / "pgdata"
        self.log = self.workdir / "postgres.log"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._as: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            assert runuser is not None, "running as root needs runuser to start PostgreSQL as postgres"
            self._as = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.workdir, "postgres")
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        """Stop it if it runs, and delete its files."""
        subprocess.run(
            [*self._as, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(self.workdir, ignore_errors=True)
