"""The audit's report: the verdict, a chart of risk per feature and attack, the figures, the census,
what to change, and what the attacks recovered (plaintext: the page is written readable by its
owner only).

:func:`audit_report` is what ``anonlink audit`` runs: it audits the records (and, with
``compare``, the same records under other schemas), then writes the page and, if asked,
the figures as JSON. :func:`verdict` is the one sentence a privacy officer can quote.
"""

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from anonlinkclient.audit.run import REFERENCE, WORST_CASE, AuditResult, audit_files
from anonlinkclient.audit.scoring import MAX_CANDIDATES, Figures
from anonlinkclient.encoding.pii import ColumnMapping
from anonlinkclient.errors import UsageError
from anonlinkclient.io.output import check_outputs
from anonlinkclient.io.sources import PiiOptions
from anonlinkclient.report import svg
from anonlinkclient.report.colours import COLOURS
from anonlinkclient.report.page import Page, Report, Table

ATTACK_NAMES = {"frequency": "frequency alignment", "pattern-mining": "pattern mining"}
SCENARIO_NAMES = {WORST_CASE: "worst case", REFERENCE: "reference list"}
#: The attacks and scenarios, in the order the chart draws them.
SERIES = [(a, s) for s in (WORST_CASE, REFERENCE) for a in ("frequency", "pattern-mining")]


def _role(attack: str, scenario: str) -> str:
    """The colour role of an attack in a scenario (see :data:`anonlinkclient.report.colours.COLOURS`)."""
    return f"{ATTACK_NAMES[attack]} ({SCENARIO_NAMES[scenario]})"


#: What the page says about itself (and the CLI repeats): it holds plaintext.
PLAINTEXT_NOTE = (
    "This page holds plaintext: values and q-grams of the audited records that the attacks recovered. "
    "It was written readable by its owner only; do not share it. Share the verdict and the figures (--json)."
)


def _share(count: int, records: int) -> str:
    return f"{count / records:.1%}" if records else "0%"


def _fraction(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3f}"


def _excess(figure: Figures, records: int) -> float:
    """How far one-to-one re-identification goes beyond guessing the most common value."""
    return figure.correct / records - figure.chance if records else 0.0


def worst(result: AuditResult, scenario: str, attack: Optional[str] = None) -> Optional[Figures]:
    """The figures of the scenario (and attack) that give the most away (``None``: none).

    What a re-identified value gives away grows with the number of values the feature
    has: the share re-identified beyond chance is weighed by ``log2`` of the feature's
    distinct values (the bits a value holds), so that 30% of names outweigh all genders.
    """
    figures = [f for f in result.figures if f.scenario == scenario and attack in (None, f.attack)]
    if not figures:
        return None
    distinct = {f.feature: f.distinct_values for f in result.census.features}

    def gives_away(figure: Figures) -> Tuple[float, int]:
        bits = math.log2(max(2, distinct.get(figure.feature, 2)))
        return max(0.0, _excess(figure, result.records)) * bits, figure.correct

    return max(figures, key=gives_away)


def _reference_features(result: AuditResult) -> str:
    names = sorted({f.feature for f in result.figures if f.scenario == REFERENCE})
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def verdict(result: AuditResult) -> str:
    """The audit's finding in one sentence a privacy officer can quote (no plaintext in it)."""
    records = result.records
    if not result.figures:
        return "Nothing was audited: the attacks apply to no feature of this schema (see what was not audited)."
    sentences = []
    for scenario in (REFERENCE, WORST_CASE):
        top = worst(result, scenario)
        if top is None:
            continue
        if scenario == REFERENCE:
            who = f"An attacker with a list of {_reference_features(result)} values"
        else:
            who = "An attacker who knows every record's values (the worst case)"
        if top.correct == 0 or _excess(top, records) <= 0:
            sentences.append(
                f"{who} could re-identify no value one-to-one beyond what guessing the most common one gives."
            )
        else:
            sentences.append(
                f"{who} could re-identify the {top.feature} of {_share(top.correct, records)} of records one-to-one "
                f"by {ATTACK_NAMES[top.attack]} (guessing the most common value: {top.chance:.1%})."
            )
    return " ".join(sentences)


@dataclass
class AuditReport(Report):
    """The audit report of one schema (and, side by side, of alternative schemas).

    :ivar compared: the audits of the same records under other schemas.
    :ivar sources: ``(name, what)`` facts about the inputs.
    """

    result: AuditResult
    compared: List[AuditResult] = field(default_factory=list)
    sources: List[Tuple[str, str]] = field(default_factory=list)
    svg_id = "audit-report"
    title: str = "Privacy audit of CLKs"
    charts: List[svg.Chart] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.charts = [self.risk_chart()] if self.result.figures else []

    def key_message(self) -> str:
        """The verdict."""
        return verdict(self.result)

    def risk_chart(self) -> svg.Chart:
        """Records re-identified one-to-one, per feature, attack and scenario, beside chance."""
        result = self.result
        features = list(dict.fromkeys(f.feature for f in result.figures))
        series = [(a, s) for a, s in SERIES if any(f.attack == a and f.scenario == s for f in result.figures)]
        by_key = {(f.attack, f.scenario, f.feature): f for f in result.figures}
        slots = len(series) + 1
        width = 0.8 / slots
        top = max([f.correct for f in result.figures] + [max(f.chance for f in result.figures) * result.records, 1])
        chart = svg.Chart(
            "risk",
            "How many records does each attack re-identify?",
            "Records whose value of each feature the attacks re-identified one-to-one (the only candidate, and the "
            "true value), per attack and scenario, beside what guessing the most common value gets.",
            "feature",
            "records re-identified one-to-one",
            (0.0, float(len(features))),
            (0.0, top * 1.15),
            x_labels=[(index + 0.5, feature) for index, feature in enumerate(features)],
        )
        for slot, (attack, scenario) in enumerate(series):
            edges: List[float] = []
            counts: List[float] = []
            tips: List[str] = []
            keys: List[str] = []
            for index, feature in enumerate(features):
                figure = by_key.get((attack, scenario, feature))
                low = index + 0.1 + slot * width
                edges += [low, low + width]
                counts += [figure.correct if figure is not None else 0, 0]
                label = f"{ATTACK_NAMES[attack]}, {SCENARIO_NAMES[scenario]}"
                tips += [
                    f"{feature}: {label}: {figure.correct:,} records ({_share(figure.correct, result.records)})"
                    if figure is not None
                    else "",
                    "",
                ]
                keys += [feature, ""]
            edges.append(edges[-1] + width)
            chart.bars(
                edges,
                counts,
                COLOURS[_role(attack, scenario)],
                f"{attack}-{scenario}",
                _role(attack, scenario),
                tips=tips,
                keys=keys,
            )
        edges, counts, tips, keys = [], [], [], []
        for index, feature in enumerate(features):
            chance = max(f.chance for f in result.figures if f.feature == feature)
            low = index + 0.1 + (slots - 1) * width
            edges += [low, low + width]
            counts += [round(chance * result.records), 0]
            tips += [f"{feature}: guessing the most common value: {chance:.1%} of records", ""]
            keys += [feature, ""]
        edges.append(edges[-1] + width)
        chart.bars(
            edges, counts, COLOURS["chance"], "chance", "guessing the most common value", 0.6, tips=tips, keys=keys
        )
        return chart

    def figures_table(self) -> Table:
        """Every figure, one row per attack, scenario and feature."""
        records = self.result.records
        rows = [
            [
                f"{ATTACK_NAMES[f.attack]}, {SCENARIO_NAMES[f.scenario]}",
                f.feature,
                f"{f.qgrams_identified:,}",
                *(
                    ["not scored"] * 2
                    if f.qgrams_identified and f.position_precision is None
                    else [_fraction(f.position_precision), _fraction(f.position_recall)]
                ),
                f"{f.correct:,} ({_share(f.correct, records)})",
                f"{f.one_to_many:,}",
                f"{f.wrong:,}",
                f"{f.no_guess:,}",
                f"{f.chance:.1%}",
            ]
            for f in self.result.figures
        ]
        return Table(
            f"What each attack achieved (records; one-to-many: at most {MAX_CANDIDATES} candidates, the true value "
            "among them; chance: guessing the most common value)",
            [
                "attack, scenario",
                "feature",
                "q-grams",
                "precision",
                "recall",
                "one-to-one",
                "one-to-many",
                "wrong",
                "no guess",
                "chance",
            ],
            rows,
            text_columns=[0, 1],
            table_id="figures",
        )

    def census_table(self) -> Table:
        """The census of each feature."""
        census = self.result.census
        rows = [
            [
                f.feature,
                f.comparison,
                f.hash_type,
                f"{f.distinct_values:,}",
                f"{f.top_share:.1%}",
                f"{f.bits_per_value:.1f}",
                "; ".join(f.warnings) or "–",
            ]
            for f in census.features
        ]
        return Table(
            "The features",
            [
                "feature",
                "comparison",
                "hash",
                "distinct values",
                "most common value",
                "bits per value",
                "warnings",
            ],
            rows,
            text_columns=[0, 1, 2, 6],
            table_id="census",
        )

    def census_facts(self) -> List[Tuple[str, str]]:
        """What the CLKs give away before any attack."""
        census = self.result.census
        facts = [
            ("Distinct CLKs", f"{census.distinct_clks:,} of {census.records:,} records"),
            ("Records sharing a CLK with different values", f"{census.shared_clks:,}"),
            ("Records whose values have other CLKs too", f"{census.split_values:,}"),
        ]
        if census.double_hash_patterns:
            facts.append(
                (
                    "doubleHash patterns found",
                    f"{census.progressions:,} of the {census.double_hash_patterns:,} patterns pattern mining found "
                    "are arithmetic progressions",
                )
            )
        return facts

    def advice(self) -> List[str]:
        """What to change, as the figures point to it."""
        result = self.result
        records = result.records
        advice = []
        repeated = [
            f.feature for f in result.figures if f.attack == "frequency" and f.correct and _excess(f, records) > 0.01
        ]
        if repeated:
            advice.append(
                f"Identical values give identical CLKs, and frequency alignment re-identifies "
                f"{', '.join(sorted(set(repeated)))}: hash more features into the CLK so that CLKs do not repeat, "
                "or salt each record's tokens with a value of its own (the salt hardening step)."
            )
        mined = [
            f.feature
            for f in result.figures
            if f.attack == "pattern-mining"
            and f.qgrams_identified
            and ((f.position_precision or 0) >= 0.5 or (f.position_precision is None and f.correct > 0))
        ]
        if mined:
            advice.append(
                f"Pattern mining finds the bit positions of frequent q-grams of {', '.join(sorted(set(mined)))}: "
                "harden the CLKs (rule90 with xorFold, randomizedResponse, or a salt; permute alone changes nothing "
                "and balance is undone by pairing complements). --compare audits a hardened schema beside this one."
            )
        tiny = [f.feature for f in result.census.features if any(w.startswith("tiny value set") for w in f.warnings)]
        if tiny:
            advice.append(
                f"{', '.join(tiny)} {'has' if len(tiny) == 1 else 'have'} very few values: never encode such a "
                "feature alone, and weigh whether it is worth its bits."
            )
        few = [f.feature for f in result.census.features if any(w.startswith("very few bits") for w in f.warnings)]
        if few:
            advice.append(f"{', '.join(few)} set very few bits: give them more (bitsPerToken) or leave them out.")
        if result.census.progressions:
            advice.append(
                "doubleHash places a q-gram's bits on an arithmetic progression, which lets an attacker check and "
                "complete the patterns found (Kroll and Steinmetzer): use blakeHash."
            )
        if not advice:
            advice.append("The figures point to nothing to change: no attack did better than chance.")
        return advice

    def compare_table(self) -> Table:
        """The schemas side by side: the most re-identified feature of each attack and scenario."""
        audits = [self.result] + self.compared
        columns = [
            (attack, scenario)
            for scenario in (WORST_CASE, REFERENCE)
            for attack in ATTACK_NAMES
            if any(f.attack == attack and f.scenario == scenario for a in audits for f in a.figures)
        ]
        rows = []
        for audit in audits:
            row = [audit.schema_name, f"{audit.clk_bits:,}"]
            for attack, scenario in columns:
                top = worst(audit, scenario, attack)
                if top is None:
                    row.append("–")
                    continue
                qgrams = sum(f.qgrams_identified for f in audit.figures if (f.attack, f.scenario) == (attack, scenario))
                row.append(f"{_share(top.correct, audit.records)} ({top.feature}; {qgrams} q-grams)")
            rows.append(row)
        headings = ["schema", "CLK bits"] + [f"{ATTACK_NAMES[a]}, {SCENARIO_NAMES[s]}" for a, s in columns]
        return Table(
            "The schemas side by side: records re-identified one-to-one of the feature that gives most away "
            "(as in the verdict), and the q-grams identified",
            headings,
            rows,
            text_columns=[0] + list(range(2, len(headings))),
            highlight=[0],
            table_id="compare",
        )

    def recovered_table(self) -> Table:
        """What the attacks recovered, in plaintext."""
        rows = []
        for (attack, scenario, feature), what in self.result.recovered.items():
            if not what.values and not what.qgrams:
                continue
            values = ", ".join(f"{value} ({count:,})" for value, count in what.values) or "–"
            qgrams = " ".join(f"‹{qgram}›" for qgram in what.qgrams) or "–"
            rows.append([ATTACK_NAMES[attack], SCENARIO_NAMES[scenario], feature, values, qgrams])
        return Table(
            "Values re-identified one-to-one most often (records), and q-grams whose bit positions were found",
            ["attack", "scenario", "feature", "values", "q-grams"],
            rows,
            text_columns=[0, 1, 2, 3, 4],
            table_id="recovered",
        )

    def page(self) -> Page:
        """The report as a page."""
        result = self.result
        page = Page(self.title, f"Schema: {result.schema_name}")
        page.paragraph(self.key_message(), "key")
        facts = list(self.sources) + [
            ("Records", f"{result.records:,}"),
            ("CLK length", f"{result.clk_bits:,} bits"),
            ("Hardening", ", ".join(result.hardening) or "none"),
            ("Scenarios", ", ".join(SCENARIO_NAMES[s] for s in result.scenarios) or "none"),
            ("Features attacked", ", ".join(dict.fromkeys(f.feature for f in result.figures)) or "none"),
        ]
        page.facts(facts, "summary")
        for feature, why in result.not_audited:
            page.paragraph(f"Not audited: {feature} ({why}).", "warning")
        page.paragraph(PLAINTEXT_NOTE, "warning")
        if self.charts:
            page.heading("Risk per feature and attack")
            page.figure(
                self.charts[0].svg(),
                "One-to-one: the attack's only candidate value is the record's true value. Worst case: the attacker's "
                "list is the audited records themselves; reference list: the list given. Grey: what an attacker gets "
                "by guessing the list's most common value for every record, without the CLKs.",
            )
            page.table(self.figures_table())
            page.paragraph(
                "Q-grams: q-grams the attack assigned bit positions to. Precision: the share of the positions it "
                "assigned that the q-grams really set; recall: the share of the positions the q-grams always set "
                "that it found. Both are scored with the secret, which the attacks never see. One-to-one: the "
                "attack's only candidate is the true value; wrong: 1 to 10 candidates, none of them true.",
                None,
            )
        if self.compared:
            page.heading("Alternative schemas")
            page.table(self.compare_table())
        page.heading("What to change")
        for line in self.advice():
            page.paragraph(line)
        page.heading("Census: what the CLKs give away before any attack")
        page.facts(self.census_facts(), "census-facts")
        page.table(self.census_table())
        if any(what.values or what.qgrams for what in result.recovered.values()):
            page.heading("What the attacks recovered (plaintext)")
            page.table(self.recovered_table())
        page.heading("How the attacks went")
        for attack, scenario, line in result.notes:
            scenario, _, list_of = scenario.partition(": ")
            where = SCENARIO_NAMES.get(scenario, scenario) + (f" of {list_of}" if list_of else "")
            name = "undoing hardening" if attack == "all" else f"{ATTACK_NAMES[attack]}, {where}"
            page.paragraph(f"{name}: {line}.")
        return page


def audit_report(
    pii_path: str,
    secret: Union[str, bytes],
    schema_path: str,
    output: str,
    json_output: Optional[str] = None,
    reference_path: Optional[str] = None,
    clk_path: Optional[str] = None,
    compare: Sequence[str] = (),
    header: bool = True,
    workers: Optional[int] = None,
    inputs: Sequence[Optional[str]] = (),
    options: Optional[PiiOptions] = None,
    columns: Optional[ColumnMapping] = None,
) -> AuditReport:
    """Audit the CLKs of PII and write the report (readable by its owner only) and the JSON figures.

    :param pii_path: a CSV, a Parquet file, an Excel workbook or a database URL, as
        ``hash`` reads them (``options`` and ``columns``: see :func:`~.run.audit_files`).
    :param output: the HTML report; not ``-``: it holds plaintext.
    :param json_output: also write the figures as JSON here.
    :param compare: other linkage schemas to audit the same records with, side by side.
    :param inputs: other files that must not be overwritten (a secret file).
    :raises UsageError: if the report would go to stdout.
    :raises InputFileError: for unusable data, CLK or reference files (nothing is written).
    :raises SchemaFileError: for an unusable schema.
    """
    if output == "-":
        raise UsageError("the audit report holds plaintext values, so it is written to a file, not stdout", "output")
    check_outputs([output, json_output], [pii_path, schema_path, reference_path, clk_path, *compare, *inputs])
    result = audit_files(pii_path, secret, schema_path, reference_path, clk_path, header, workers, options, columns)
    compared = [
        audit_files(pii_path, secret, path, reference_path, None, header, workers, options, columns) for path in compare
    ]
    sources = [
        ("Records read from", result.source_name),
        ("CLKs", f"read from {clk_path}" if clk_path else "hashed from them"),
    ]
    if reference_path is not None:
        sources.append(("Attacker's list", reference_path))
    report = AuditReport(result, compared, sources)
    figures: Dict[str, Any] = result.as_json()
    if compared:
        figures["compare"] = [audit.as_json() for audit in compared]
    also = [(json_output, json.dumps(figures, indent=1))] if json_output is not None else []
    report.write(output, private=True, also=also)
    return report


def format_summary(report: AuditReport) -> List[str]:
    """What ``anonlink audit`` prints: the verdict and the figures, no plaintext."""
    result = report.result
    lines = [f"Audited {result.records:,} records in {result.seconds:.0f} s: {verdict(result)}"]
    for feature, why in result.not_audited:
        lines.append(f"Not audited: {feature} ({why})")
    for audit in report.compared:
        lines.append(f"With {audit.schema_name}: {verdict(audit)}")
    return lines
