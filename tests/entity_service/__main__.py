"""Run the test Entity Service by hand (from the repository root)::

    python -m tests.entity_service --port 8851 --s3 start

Options: ``--port`` (default 8851; 0 picks a free port), ``--s3 start`` (also run a
moto S3 server in this process, on a free port), ``--s3 127.0.0.1:PORT`` (use an
S3 server already running; loopback only), no ``--s3``: object-store uploads
disabled. ``--stage-delay SECONDS`` and ``--verbose`` (log requests to stderr).

Once listening it prints, flushed, one ``KEY=value`` line each (see
:mod:`.process`, which starts it as a subprocess and reads them), then serves
until interrupted::

    ENTITY_SERVICE_URL=http://127.0.0.1:8851
    S3_ENDPOINT=127.0.0.1:40123        (only with --s3)

It needs the test requirements (PyYAML, the OpenAPI validators, moto); without
them it says in one line what to install (:data:`MISSING_REQUIREMENTS`) and
exits with status 1.
"""

import argparse
import signal
import sys
import threading
from typing import List, Optional

#: Said (on stderr) when a test requirement is not installed, with the module missing.
MISSING_REQUIREMENTS = (
    "python -m tests.entity_service needs the test requirements (no module named {module!r}); "
    "install them with: pip install -e '.[test]'"
)
#: The exit status then.
MISSING_REQUIREMENTS_STATUS = 1


def main(argv: Optional[List[str]] = None) -> int:
    """Serve (see :func:`serve`), or say what to install if a test requirement is missing."""
    try:
        return serve(argv)
    except ModuleNotFoundError as exc:
        missing = exc.name or "?"
        if missing.split(".")[0] in ("tests", "anonlinkclient"):
            raise  # ours: a bug, not a requirement
        print(MISSING_REQUIREMENTS.format(module=missing.split(".")[0]), file=sys.stderr, flush=True)
        return MISSING_REQUIREMENTS_STATUS


def serve(argv: Optional[List[str]] = None) -> int:
    """Parse arguments, start the service (and S3 server), serve until SIGINT/SIGTERM."""
    from tests.entity_service.objectstore import S3Server
    from tests.entity_service.process import announce
    from tests.entity_service.server import EntityService

    parser = argparse.ArgumentParser(
        prog="python -m tests.entity_service",
        description="Run the test Entity Service (and an S3 server) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8851, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--s3", metavar="start|HOST:PORT", help="run a moto S3 server, or use one at HOST:PORT")
    parser.add_argument("--stage-delay", type=float, default=0.05, help="seconds before each run state change")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    s3 = None
    if args.s3 == "start":
        s3 = S3Server.start()
    elif args.s3:
        try:
            s3 = S3Server.existing(args.s3)
        except ValueError as exc:
            parser.error(f"--s3: {exc}")
    try:
        service = EntityService(s3=s3, port=args.port, stage_delay=args.stage_delay, verbose=args.verbose).start()
    except OSError as exc:
        parser.error(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")

    announce(service.url, s3.endpoint if s3 is not None else None, sys.stdout)
    print(f"test Entity Service at {service.api_url}; Ctrl-C to stop", file=sys.stderr, flush=True)

    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    service.stop()
    if s3 is not None:
        s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
