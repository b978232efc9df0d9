"""A real PostgreSQL server for the tests, started by them: ``initdb`` and ``pg_ctl`` on a free port of 127.0.0.1.

Debian installs the server programs in ``/usr/lib/postgresql/<version>/bin`` (not on
``PATH``); they are looked for there too. PostgreSQL refuses to run as root, so as root
the server runs as the ``postgres`` user (its data directory is handed to it). Logins
over TCP need a password (``scram-sha-256``); the tests' user is :data:`USER` with
:data:`PASSWORD`. Nothing is skipped: without the programs the fixture fails.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

USER = "alice"
PASSWORD = "pw-Kq3v9ZtR2x"
DATABASE = "registry"


def server_programs() -> Path:
    """The directory with initdb, pg_ctl and postgres."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        pytest.fail("PostgreSQL's server programs (initdb, pg_ctl) are not installed: apt-get install postgresql")
    return Path(candidates[0]).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running server: where it listens, how to log in, and how to stop it."""

    directory: Path
    port: int
    owner: Optional[str]  # the user it runs as, when the tests run as root

    @property
    def url(self) -> str:
        """The URL of the tests' database, without the password."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def admin_url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def run(self, *command: str) -> None:
        subprocess.run(_as(self.owner, list(command)), check=True, capture_output=True, timeout=120)

    def connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(self.admin_url(), autocommit=True)

    def postmaster_pid(self) -> int:
        return int((self.directory / "data" / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """Kill the server and every backend at once (as a crash would)."""
        pid = self.postmaster_pid()
        backends = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for victim in [pid, *map(int, backends)]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        bin_dir = server_programs()
        subprocess.run(
            _as(self.owner, [str(bin_dir / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def _as(owner: Optional[str], command: List[str]) -> List[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


def start_server() -> Server:
    """initdb, then pg_ctl start on a free port; the tests' user and database created."""
    bin_dir = server_programs()
    directory = Path(tempfile.mkdtemp(prefix="anonlink-pg-"))
    owner = "postgres" if os.geteuid() == 0 else None
    if owner:
        record = pwd.getpwnam(owner)
        os.chown(directory, record.pw_uid, record.pw_gid)
    directory.chmod(0o700)
    password_file = directory / "password"
    password_file.write_text(PASSWORD + "\n")
    if owner:
        os.chown(password_file, pwd.getpwnam(owner).pw_uid, -1)
    server = Server(directory, free_port(), owner)
    data = str(directory / "data")
    server.run(
        str(bin_dir / "initdb"), "-D", data, "-U", USER, "--pwfile", str(password_file),
        "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
    )  # fmt: skip
    options = f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    server.run(
        str(bin_dir / "pg_ctl"), "-D", data, "-o", options, "-l", str(directory / "log"), "-w", "-t", "60", "start"
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            import psycopg

            with psycopg.connect(
                f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{server.port}/postgres", autocommit=True
            ) as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
            return server
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.2)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """One PostgreSQL server for the whole test session."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
