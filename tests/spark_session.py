"""Spark in local mode (``local[2]``) for the tests, started once per test session by the tests that ask for it.

The session runs as a small cluster would record it: its event log is written
(``spark.eventLog.enabled``) to a directory of its own, its UI (and the UI's REST API)
listens on a free port of 127.0.0.1, and the JVM's stdout and stderr, where the driver's
and the executors' logs and the Python workers' output go, are a log file. The tests of
the secret search all three. Python workers run this interpreter (``PYSPARK_PYTHON``).
Nothing is skipped: without PySpark or Java the fixture fails.
"""

import contextlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest


@dataclass
class LocalSpark:
    """The running session and where it records what it does."""

    session: Any
    directory: Path

    @property
    def log_file(self) -> Path:
        """The JVM's stdout and stderr (driver and executor logs, Python workers' output)."""
        return self.directory / "spark.log"

    @property
    def event_log(self) -> Path:
        """The directory of the event log."""
        return self.directory / "events"

    def event_log_text(self) -> str:
        """Everything the event log holds so far."""
        files = sorted(path for path in self.event_log.rglob("*") if path.is_file())
        return "".join(path.read_text(errors="replace") for path in files)

    def log_text(self) -> str:
        """Everything the JVM has printed so far."""
        return self.log_file.read_text(errors="replace")


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """File descriptors 1 and 2 point at ``path`` meanwhile (a process started now keeps them)."""
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def start_spark(directory: Path) -> LocalSpark:
    """Start the session (see the module docstring); its files go to ``directory``."""
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    (directory / "events").mkdir()
    settings = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "true",
        "spark.ui.port": "0",
        "spark.ui.showConsoleProgress": "false",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": (directory / "events").as_uri(),
        "spark.eventLog.compress": "false",  # the tests read it as text
        "spark.local.dir": str(directory / "local"),
        "spark.sql.warehouse.dir": str(directory / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "3",
        "spark.default.parallelism": "2",
        # several part files and Arrow batches even for small data: their order is tested
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "64",
        "spark.driver.memory": "1g",
    }
    builder = SparkSession.builder.master("local[2]").appName("anonlink-client tests")
    for key, value in settings.items():
        builder = builder.config(key, value)
    with _output_to(directory / "spark.log"):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return LocalSpark(session, directory)


@pytest.fixture(scope="session")
def local_spark() -> Iterator[LocalSpark]:
    """A Spark session in local mode, with its event log, UI and log file (see the module docstring)."""
    directory = Path(tempfile.mkdtemp(prefix="anonlink-spark-"))
    spark = start_spark(directory)
    try:
        yield spark
    finally:
        spark.session.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def spark(local_spark: LocalSpark) -> Any:
    """The ``SparkSession`` of :func:`local_spark`."""
    return local_spark.session
