"""Time and peak memory of ``anonlink upload`` with blocks, through the object store and directly.

Usage: python benchmarks/upload_benchmark.py [CLKS]   (default: 1000000)

Writes a CLK file of random 1024-bit CLKs and a block file (each record in 5
blocks), then runs ``anonlink upload --blocks`` as a subprocess twice: through
the object store (a moto S3 server on 127.0.0.1) and directly
(``--to_entityservice``: the CLKs combined with their blocks as
``clknblocks``). The "service" is a byte sink on 127.0.0.1 that answers
``authorize-external-upload`` and ``POST .../clks`` and discards what it
receives, so the figures are the client's alone. Target: peak RSS under 300 MB
for 1,000,000 CLKs.
"""

import json
import logging
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict

from clk_file_benchmark import write_inputs
from measure import measure

PROJECT = "benchmark"


class Sink(BaseHTTPRequestHandler):
    """Just enough of the Entity Service API for an upload; bodies are read and dropped."""

    protocol_version = "HTTP/1.1"
    s3_endpoint = ""
    received: Dict[str, int] = {}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.endswith("/authorize-external-upload"):
            credentials = {"AccessKeyId": "testing", "SecretAccessKey": "testing", "SessionToken": "testing"}
            upload = {"bucket": "uploads", "endpoint": self.s3_endpoint, "path": f"{PROJECT}/1", "secure": False}
            self._answer(201, {"credentials": credentials, "upload": upload})
        else:
            self._answer(404, {"detail": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        remaining = int(self.headers.get("Content-Length", "0"))
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.received[self.path] = int(self.headers.get("Content-Length", "0"))
        self._answer(201, {"message": "Updated", "receipt_token": "0" * 48})


def main(count: int) -> None:
    from minio import Minio
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    Sink.s3_endpoint = f"{host}:{port}"
    Minio(Sink.s3_endpoint, "testing", "testing", secure=False, region="us-east-1").make_bucket("uploads")
    service = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{service.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clk_path, block_path = write_inputs(tmp, count)
            print(
                f"{count} CLKs: CLK file {os.path.getsize(clk_path) / 2**20:.0f} MiB, "
                f"block file {os.path.getsize(block_path) / 2**20:.0f} MiB"
            )
            base = [sys.executable, "-m", "anonlinkclient", "upload", "--server", server, "--project", PROJECT]
            base += ["--apikey", "0" * 48, "--blocks", block_path, clk_path]
            for name, extra in (("object store", []), ("direct (clknblocks)", ["--to_entityservice"])):
                with open(os.devnull, "w") as quiet:
                    seconds, peak = measure(base + extra, stdout=quiet, stderr=quiet)
                print(f"upload {name:<20} {seconds:>7.1f} s  peak {peak:>6.0f} MiB", flush=True)
            sent = Sink.received.get(f"/api/v1/projects/{PROJECT}/clks", 0)
            print(f"last direct upload body: {sent / 2**20:.0f} MiB")
    finally:
        service.shutdown()
        s3.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
