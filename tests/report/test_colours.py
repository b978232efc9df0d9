"""One table of colours by role: every colour the reports draw comes from it, each series in its role's colour.

The reports are written in a fresh interpreter whose table gives every role a
colour of its own, so that each colour drawn tells which entry it came from.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict
from xml.etree import ElementTree

from anonlinkclient.report.colours import COLOURS
from tests.helpers import ROOT

SVG = "{http://www.w3.org/2000/svg}"

#: (chart, series or marker) -> the role whose colour it is drawn in.
ROLE_OF = {
    ("scores-histogram", "non-matches"): "non-match",
    ("scores-histogram", "matches"): "match",
    ("scores-histogram", "pairs"): "unlabelled pairs",
    ("scores-histogram", "best-threshold"): "best threshold",
    ("links-by-threshold", "pairs"): "candidate pairs",
    ("links-by-threshold", "links"): "links",
    ("links-by-threshold", "true-links"): "true links",
    ("links-by-threshold", "false-links"): "false links",
    ("links-by-threshold", "true-matches"): "true matches",
    ("links-by-threshold", "records"): "record count",
    ("links-by-threshold", "best-threshold"): "best threshold",
    ("quality-by-threshold", "precision"): "precision",
    ("quality-by-threshold", "recall"): "recall",
    ("quality-by-threshold", "f-measure"): "F-measure",
    ("quality-by-threshold", "best-threshold"): "best threshold",
    ("scores-histogram", "estimated-matches"): "estimated matches",
    ("scores-histogram", "estimated-non-matches"): "estimated non-matches",
    ("scores-histogram", "estimated-best-threshold"): "estimated best threshold",
    ("estimate-by-threshold", "estimated-precision"): "precision",
    ("estimate-by-threshold", "estimated-recall"): "recall",
    ("estimate-by-threshold", "estimated-f-measure"): "F-measure",
    ("estimate-by-threshold", "precision-band"): "precision",
    ("estimate-by-threshold", "recall-band"): "recall",
    ("estimate-by-threshold", "f-measure-band"): "F-measure",
    ("estimate-by-threshold", "true-precision"): "precision",
    ("estimate-by-threshold", "true-recall"): "recall",
    ("estimate-by-threshold", "true-f-measure"): "F-measure",
    ("estimate-by-threshold", "best-threshold"): "best threshold",
    ("estimate-by-threshold", "estimated-best-threshold"): "estimated best threshold",
    ("block-sizes", "blocks"): "blocks",
    ("records-by-block-size", "records"): "records in blocks",
    ("blocks-per-record", "records"): "blocked records",
    ("blocks-per-record", "no-block"): "unblocked records",
    ("risk", "frequency-worst-case"): "frequency alignment (worst case)",
    ("risk", "pattern-mining-worst-case"): "pattern mining (worst case)",
    ("risk", "frequency-reference"): "frequency alignment (reference list)",
    ("risk", "pattern-mining-reference"): "pattern mining (reference list)",
    ("risk", "chance"): "chance",
}

WRITE_REPORTS = """
import json, sys
from pathlib import Path
from anonlinkclient.report import colours
colours.COLOURS.update(json.loads(sys.argv[2]))
from anonlinkclient.report.blocks import block_report
from anonlinkclient.report.threshold import threshold_report
from tests.report.made_up import make_linkage

out = Path(sys.argv[1])
linkage = make_linkage(out)
clks = [out / "a.json", out / "b.json"]
for path, count in zip(clks, (400, 500)):
    path.write_text(json.dumps({"clks": ["AAAA"] * count}))
threshold_report(str(linkage.scores_path), str(out / "t.html"), str(linkage.truth_path), [str(p) for p in clks],
                 str(out / "truth.svg"))
threshold_report(str(linkage.scores_path), str(out / "n.html"), svg_output=str(out / "no-truth.svg"))
three = out / "three.json"  # three parties: no links, the candidate pairs instead
three.write_text(json.dumps({"similarity_scores": [[[0, i], [2, i], 0.5 + i / 100] for i in range(50)]}))
threshold_report(str(three), str(out / "3.html"), svg_output=str(out / "three-parties.svg"))
blocks = out / "blocks.json"
blocks.write_text(json.dumps({"blocks": {"0": ["x"], "1": ["x", "y"]}, "meta": {"source": {"clk_count": [3]}}}))
block_report(str(blocks), str(out / "b.html"), str(out / "blocks.svg"))

from anonlinkclient.audit.census import Census, FeatureCensus
from anonlinkclient.audit.page import AuditReport
from anonlinkclient.audit.run import AuditResult
from anonlinkclient.audit.scoring import Figures
attacks = [(a, s) for s in ("worst-case", "reference") for a in ("frequency", "pattern-mining")]
figures = [Figures(a, s, "name", 10, 0.9, 0.8, 5 + i, 1, 1, 13 - i, 0.1) for i, (a, s) in enumerate(attacks)]
census = Census(20, 20, 0, 0, (FeatureCensus("name", "bigrams", "blakeHash", 12, 0.2, 60.0, ()),), 0, 0)
result = AuditResult("schema.json", 20, figures, census, [], scenarios=["worst-case", "reference"], clk_bits=1024)
AuditReport(result).write(str(out / "a.html"), str(out / "audit.svg"), private=True)
"""


def own_colours() -> Dict[str, str]:
    """A colour of its own for every role (none of them a colour the reports use anywhere else)."""
    return {role: f"#0a{index:02x}0b" for index, role in enumerate(sorted(COLOURS))}


def drawn(svg_file: Path) -> Dict[tuple, str]:
    """(chart, series or marker) -> the colour it is drawn in, for every series and marker of a stacked SVG."""
    found = {}
    for chart in ElementTree.parse(svg_file).getroot().iter(f"{SVG}g"):
        chart_id = chart.get("data-chart")
        if chart_id is None:
            continue
        for group in chart.iter(f"{SVG}g"):
            if group.get("data-series") is not None:
                line = group.get("fill") == "none"
                found[(chart_id, group.get("data-series"))] = group.get("stroke" if line else "fill")
            elif group.get("data-value") is not None:  # a marker: its line
                found[(chart_id, group.get("data-role"))] = group.find(f"{SVG}line").get("stroke")
    return found


def test_every_colour_drawn_comes_from_the_table_by_role(tmp_path: Path) -> None:
    table = own_colours()
    done = subprocess.run(
        [sys.executable, "-c", WRITE_REPORTS, str(tmp_path), json.dumps(table)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    series: Dict[tuple, str] = {}
    used = set()
    for name in ("truth.svg", "no-truth.svg", "three-parties.svg", "blocks.svg", "audit.svg"):
        text = (tmp_path / name).read_text()
        colours = set(re.findall(r"#[0-9A-Fa-f]{6}\b", text))
        assert colours <= set(table.values()), f"{name} draws colours that are not in the table"
        used |= colours
        series.update(drawn(tmp_path / name))
    assert series == {key: table[role] for key, role in ROLE_OF.items()}
    page_only = {"key message", "warning"}
    assert used == {colour for role, colour in table.items() if role not in page_only}
    page = (tmp_path / "t.html").read_text()
    for role in page_only:
        assert f"border-left: 4px solid {table[role]};" in page


def test_the_table_names_roles_not_hues() -> None:
    hues = {"blue", "orange", "green", "vermilion", "sky", "grey", "gray", "black", "red", "purple", "white"}
    assert not [role for role in COLOURS if set(re.split(r"[\s-]+", role.lower())) & hues]
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", colour) for colour in COLOURS.values())
    for module in ("svg.py", "threshold.py", "blocks.py", "analysis.py"):
        source = (ROOT / "anonlinkclient" / "report" / module).read_text()
        assert not re.findall(r"#[0-9A-Fa-f]{6}\b", source), f"report/{module} names a colour outside the table"
