"""The test Entity Service in a subprocess (``python -m tests.entity_service``), and the lines it announces.

Once listening, :mod:`.__main__` prints, flushed, one ``KEY=value`` line per
address (:func:`announce`); :func:`start_service_process` starts it and reads
them back. For code that cannot share the test process (e.g. notebooks).
"""

import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The announced address of the service (the client's ``--server``).
SERVICE_URL = "ENTITY_SERVICE_URL"
#: The announced ``host:port`` of its S3 server (only when it has one).
S3_ENDPOINT = "S3_ENDPOINT"


def announce(url: str, s3_endpoint: Optional[str], out: IO[str]) -> None:
    """Print the ``KEY=value`` lines :func:`start_service_process` waits for."""
    print(f"{SERVICE_URL}={url}", file=out, flush=True)
    if s3_endpoint is not None:
        print(f"{S3_ENDPOINT}={s3_endpoint}", file=out, flush=True)


@dataclass
class ServiceProcess:
    """A test Entity Service (with its own S3 server) running as a subprocess."""

    process: "subprocess.Popen[bytes]"
    url: str
    s3_endpoint: Optional[str]

    def stop(self) -> None:
        """SIGTERM it and wait (kill after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service_process(port: int = 0, s3: Optional[str] = "start", timeout: float = 60.0) -> ServiceProcess:
    """Start ``python -m tests.entity_service`` and wait for it to announce its addresses.

    :param port: TCP port (0: a free one).
    :param s3: ``"start"``, ``"127.0.0.1:PORT"`` or ``None`` (no object store).
    """
    command = [sys.executable, "-m", "tests.entity_service", "--port", str(port)]
    if s3:
        command += ["--s3", s3]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, bufsize=0)
    assert process.stdout is not None
    found: Dict[str, str] = {}
    wanted = {SERVICE_URL} | ({S3_ENDPOINT} if s3 else set())
    deadline = time.monotonic() + timeout
    while not wanted <= found.keys():
        ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
        line = process.stdout.readline().decode() if ready else ""
        if not line:
            process.kill()
            process.wait()
            raise RuntimeError(f"the test Entity Service did not start (exit code {process.returncode})")
        key, _, value = line.strip().partition("=")
        found[key] = value
    return ServiceProcess(process, found[SERVICE_URL], found.get(S3_ENDPOINT))
