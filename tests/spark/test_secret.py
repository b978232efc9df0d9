"""The secret and the keys derived from it appear nowhere Spark shows or records: plans, UI, event log, logs.

The DataFrame is hashed with a hardened schema (so that the hardening steps' keys travel
too), explained in every mode, written both ways, and made to fail on a bad row, with the
driver's log at DEBUG; then the secret, every feature's key and every hardening step's key
(as text, hex, base64 and Python's escaped bytes) are looked for in the plans ``explain``
prints, the UI's REST API (SQL with plans, jobs, stages, environment, executors), the event
log and the JVM's output (driver and executor logs, the Python workers' stderr). Each search
is shown to see the hashing job (it finds ``HashClks``), so that finding nothing means
something.
"""

import base64
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

from anonlinkclient.encoding.parallel import derive_keys, derive_step_keys
from anonlinkclient.encoding.schema import linkage_schema
from anonlinkclient.errors import ExecutorInputError
from anonlinkclient.spark import hash_dataframe, write_clk_dataset, write_clk_file
from tests.secrets_guard import register_secret
from tests.spark.test_hashing import HARDENED_SCHEMA, PEOPLE_TYPE, people, with_value, write_schema
from tests.spark_session import LocalSpark

SECRET = "Spark-Secret-q9W2x7"
EXPLAIN_MODES = ["simple", "extended", "codegen", "cost", "formatted"]


def forms(value: bytes) -> List[str]:
    """How a secret value could be shown: hex (both cases), base64 (both alphabets), Python's escaped bytes."""
    return [
        value.hex(),
        value.hex().upper(),
        base64.b64encode(value).decode(),
        base64.urlsafe_b64encode(value).decode(),
        repr(value)[2:-1],
    ]


def forbidden() -> Dict[str, str]:
    """Every form of the secret and of its keys (the features' and the hardening steps'), each named."""
    schema = linkage_schema(HARDENED_SCHEMA)
    keys = derive_keys(SECRET, schema)
    step_keys = derive_step_keys(SECRET, schema)
    assert len(step_keys) == 3
    found = {"the secret": SECRET}
    found.update({f"the secret as {i}": text for i, text in enumerate(forms(SECRET.encode()))})
    for feature, feature_keys in enumerate(keys):
        for number, key in enumerate(feature_keys):
            for i, text in enumerate(forms(bytes(key))):
                found[f"key {number} of feature {feature} (form {i})"] = text
    for step, key in enumerate(step_keys):
        for i, text in enumerate(forms(key)):
            found[f"the key of hardening step {step} (form {i})"] = text
    return found


def ui_texts(session: Any) -> str:
    """What the UI's REST API tells about the application."""
    base = f"{session.sparkContext.uiWebUrl}/api/v1/applications"
    (application,) = requests.get(base, timeout=30).json()
    pages = ["sql?details=true&planDescription=true", "jobs", "stages?details=true", "environment", "executors"]
    return "\n".join(requests.get(f"{base}/{application['id']}/{page}", timeout=30).text for page in pages)


def test_the_secret_and_its_keys_appear_nowhere_spark_shows(
    local_spark: LocalSpark, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    register_secret(SECRET)
    session = local_spark.session
    schema = write_schema(tmp_path, HARDENED_SCHEMA)
    rows = people(120, seed=4)
    frame = session.createDataFrame(rows, PEOPLE_TYPE)
    capsys.readouterr()
    session.sparkContext.setLogLevel("DEBUG")
    try:
        clks = hash_dataframe(frame.repartition(2), SECRET, schema, "person_id", columns={"postcode": "zip"})
        for mode in EXPLAIN_MODES:
            clks.explain(mode)
        write_clk_file(clks, str(tmp_path / "clks.bin"))
        write_clk_dataset(clks, str(tmp_path / "clks"))
        bad = with_value(frame, sorted(rows)[3][0], "age", 1.5, "double")
        with pytest.raises(ExecutorInputError):
            write_clk_file(hash_dataframe(bad, SECRET, schema, "person_id", {"postcode": "zip"}), str(tmp_path / "x"))
    finally:
        session.sparkContext.setLogLevel("WARN")
    plans = capsys.readouterr().out
    shown = {
        "the plans": plans,
        "the UI": ui_texts(session),
        "the event log": local_spark.event_log_text(),
        "the log": local_spark.log_text(),
    }
    for where, text in shown.items():
        assert "HashClks" in text, f"{where} does not show the hashing job, so searching it proves nothing"
    assert " DEBUG " in shown["the log"] and "Lost task" in shown["the log"]  # the failed task's traceback too
    leaks = [
        f"{what} in {where}" for where, text in shown.items() for what, form in forbidden().items() if form in text
    ]
    assert leaks == []
