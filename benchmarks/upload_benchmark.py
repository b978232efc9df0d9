"""Bytes sent, time and peak memory of ``anonlink upload``: JSON and binary, directly and through the object store.

Usage: python benchmarks/upload_benchmark.py [CLKS]   (default: 1000000)

Writes a JSON CLK file of random 1024-bit CLKs (as older tools wrote it), the
same CLKs as a binary CLK file, and a block file (each record in 5 blocks).
Then runs ``anonlink upload`` as a subprocess for each way of sending:

* without blocks, ``--format json`` and ``--format binary`` (the default), each
  directly (``--to_entityservice``: ``POST /clks`` or ``POST /binaryclks``) and
  through the object store (``encodings.json`` or ``encodings.bin``), from the
  JSON file of an older tool (sent as it is, or converted on the way), from the
  binary file, and directly from a JSON file with metadata (re-encoded);
* with blocks, through the object store and directly (``clknblocks``).

The "service" is a byte sink on 127.0.0.1 that answers ``authorize-external-upload``
and the upload requests and counts what it receives; the object store is a moto
S3 server on 127.0.0.1 whose objects are measured (and deleted) after each run.
So the figures are the client's alone (moto's own work is in the seconds of the
object-store runs). Target: binary about a quarter fewer bytes than JSON, and
peak memory flat (under 300 MB) whatever the number of CLKs.
"""

import json
import logging
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Tuple

from clk_file_benchmark import write_inputs
from measure import measure

PROJECT = "benchmark"
BUCKET = "uploads"


class Sink(BaseHTTPRequestHandler):
    """Just enough of the Entity Service API for an upload; bodies are read, counted and dropped."""

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
            upload = {"bucket": BUCKET, "endpoint": self.s3_endpoint, "path": f"{PROJECT}/1", "secure": False}
            self._answer(201, {"credentials": credentials, "upload": upload})
        else:
            self._answer(403, {"detail": "Invalid access token or project doesn't exist"})  # as to an upload token

    def do_POST(self) -> None:  # noqa: N802
        remaining = int(self.headers.get("Content-Length", "0"))
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.received[self.path.rsplit("/", 1)[-1]] = int(self.headers.get("Content-Length", "0"))
        self._answer(201, {"message": "Updated", "receipt_token": "0" * 48})


def write_with_metadata(json_path: str, path: str, clk_format: str) -> None:
    """The CLKs of the JSON file as ``anonlink hash`` writes them now: with metadata, as JSON or binary."""
    from anonlinkclient.io.clk_file import ClkMeta, iter_clks, write_clk_file

    write_clk_file(path, iter_clks(json_path), ClkMeta("benchmark", "0", 1024), clk_format)


def objects_sent(store: Any) -> Dict[str, int]:
    """Sizes of the objects uploaded, which are then deleted."""
    sizes = {}
    for item in store.list_objects(BUCKET, prefix=f"{PROJECT}/", recursive=True):
        sizes[item.object_name.rsplit("/", 1)[-1]] = item.size
        store.remove_object(BUCKET, item.object_name)
    return sizes


def main(count: int) -> None:
    from minio import Minio
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    Sink.s3_endpoint = f"{host}:{port}"
    store = Minio(Sink.s3_endpoint, "testing", "testing", secure=False, region="us-east-1")
    store.make_bucket(BUCKET)
    service = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{service.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clk_path, block_path = write_inputs(tmp, count)
            binary_path, meta_path = os.path.join(tmp, "clks.bin"), os.path.join(tmp, "clks-meta.json")
            write_with_metadata(clk_path, binary_path, "binary")
            write_with_metadata(clk_path, meta_path, "json")
            sizes = [os.path.getsize(p) / 2**20 for p in (clk_path, binary_path, block_path)]
            print(f"{count} CLKs: JSON CLK file {sizes[0]:.0f} MiB, binary {sizes[1]:.0f}, blocks {sizes[2]:.0f} MiB")
            base = [sys.executable, "-m", "anonlinkclient", "upload", "--server", server, "--project", PROJECT]
            base += ["--apikey", "0" * 48]
            runs: List[Tuple[str, List[str], str]] = [
                ("JSON, direct", ["--format", "json", "--to_entityservice", clk_path], "clks"),
                ("binary, direct", ["--to_entityservice", clk_path], "binaryclks"),
                ("binary, direct, from binary file", ["--to_entityservice", binary_path], "binaryclks"),
                (
                    "JSON, direct, from JSON with metadata",
                    ["--format", "json", "--to_entityservice", meta_path],
                    "clks",
                ),
                ("binary, direct, from JSON with metadata", ["--to_entityservice", meta_path], "binaryclks"),
                ("JSON, object store", ["--format", "json", clk_path], "encodings.json"),
                ("binary, object store", [clk_path], "encodings.bin"),
                ("binary, object store, from binary file", [binary_path], "encodings.bin"),
                ("blocks, object store (binary)", ["--blocks", block_path, clk_path], "encodings.bin"),
                ("blocks, direct (clknblocks)", ["--blocks", block_path, "--to_entityservice", clk_path], "clks"),
            ]
            print(f"{'upload':<40} {'CLK bytes sent':>15} {'seconds':>8} {'peak MiB':>9}")
            for name, extra, target in runs:
                Sink.received.clear()
                with open(os.devnull, "w") as quiet:
                    seconds, peak = measure(base + extra, stdout=quiet, stderr=quiet)
                sent = dict(Sink.received, **objects_sent(store))
                print(f"{name:<40} {sent.get(target, 0):>15,} {seconds:>8.1f} {peak:>9.0f}", flush=True)
    finally:
        service.shutdown()
        s3.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
