"""The audit report in a real browser (Debian's chromium, headless): the chart is drawn, legible and right."""

import json
from pathlib import Path
from typing import Any, Dict

from anonlinkclient.audit.page import audit_report
from tests.audit import planted
from tests.audit.test_cli import write_csv, write_schema
from tests.report.browser import render, screenshot
from tests.report.conftest import chromium  # noqa: F401  (the fixture)
from tests.report.test_browser import assert_heights_follow_counts, assert_legible, blend, pixels_near


def _report(tmp_path: Path) -> Dict[str, Any]:
    names = planted.first_names(5_000, seed=4)
    sexes = planted.skewed(5_000, ["F", "M"], seed=5)
    pii = write_csv(tmp_path / "pii.csv", ["first name", "sex"], list(zip(names, sexes)))
    schema = write_schema(tmp_path / "schema.json", planted.feature("first name", k=12), planted.feature("sex"))
    hardened = write_schema(
        tmp_path / "blake.json", planted.feature("first name", hash_type="blakeHash"), planted.feature("sex", k=5)
    )
    reference = write_csv(tmp_path / "names.csv", ["first name"], [[n] for n in planted.first_names(5_000, seed=6)])
    page, figures = tmp_path / "audit.html", tmp_path / "audit.json"
    audit_report(pii, planted.SECRET, schema, str(page), str(figures), reference, compare=[hardened])
    return {"page": page, "figures": json.loads(figures.read_text())}


def test_the_audit_page(chromium: str, tmp_path: Path) -> None:  # noqa: F811
    made = _report(tmp_path)
    measured = render(chromium, made["page"], tmp_path)
    assert_legible(measured, ["risk"])
    risk = measured["charts"]["risk"]
    expected = {
        (f"{e['attack']}-{e['scenario']}", e["feature"]): e["correct"]
        for e in made["figures"]["attacks"]
        if e["correct"]
    }
    drawn = {(bar["series"], bar["key"]): bar["count"] for bar in risk["bars"] if bar["series"] != "chance"}
    assert drawn == expected
    assert {bar["key"] for bar in risk["bars"] if bar["series"] == "chance"} == {"first name", "sex"}
    assert_heights_follow_counts(risk["bars"], log=False)
    assert [t["text"] for t in risk["texts"] if t["tick"] == "x"] == ["first name", "sex"]
    assert pixels_near(risk["pixels"], blend("#D55E00", 1.0)) > 500  # pattern mining, worst case
    width, _height = screenshot(chromium, made["page"], tmp_path / "audit.png")
    assert width == 1000
