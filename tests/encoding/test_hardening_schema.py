"""Checking ``clkConfig.hardening`` and ``xorFolds``: every mistake is one line naming the step or feature."""

import copy
import json
from typing import Any, Dict, List

import pytest
from clkhash.schema import convert_to_latest_version

from anonlinkclient.encoding.hardening_schema import (
    folds,
    hardening_problems,
    keep_as_written,
    read_hardening,
    xor_folds_warning,
)
from tests.helpers import ROOT

BASE: Dict[str, Any] = json.loads(
    (ROOT / "anonlinkclient" / "synthetic" / "data" / "default-linkage-schema.json").read_text()
)
NAME, DOB, GENDER = "NAME freetext", "DOB YYYY/MM/DD", "GENDER M or F"
RR, SALT = "clkConfig.hardening[0] (randomizedResponse): ", "clkConfig.hardening[0] (salt): "
HASHED = "the features a step names must be hashed features"
NUMBER, FEATURES = "a number between 0 and 1 (both excluded)", "a non-empty list of feature identifiers (strings)"


def hardened(steps: Any, **clk_config: Any) -> Dict[str, Any]:
    document = copy.deepcopy(BASE)
    document["clkConfig"]["hardening"] = steps
    document["clkConfig"].update(clk_config)
    return document


@pytest.mark.parametrize(
    "steps, problem",
    [
        ("balance", "clkConfig.hardening is a string; expected a list of steps"),
        (
            [{"folds": 1}],
            'clkConfig.hardening[0]: a step is an object with a "type" (one of permute, balance, xorFold, '
            "rule90, rehash, randomizedResponse, salt)",
        ),
        (
            [{"type": "shuffle"}],
            "clkConfig.hardening[0]: unknown step type 'shuffle' (the types are permute, balance, "
            "xorFold, rule90, rehash, randomizedResponse, salt)",
        ),
        (
            [{"type": "permute", "seed": 1}],
            "clkConfig.hardening[0] (permute): unknown parameter 'seed' (permute takes no parameters)",
        ),
        ([{"type": "xorFold"}], "clkConfig.hardening[0] (xorFold): folds is missing; expected an integer from 1 to 62"),
        (
            [{"type": "xorFold", "folds": 0}],
            "clkConfig.hardening[0] (xorFold): folds is 0; expected an integer from 1 to 62",
        ),
        (
            [{"type": "xorFold", "folds": True}],
            "clkConfig.hardening[0] (xorFold): folds is true; expected an integer from 1 to 62",
        ),
        (
            [{"type": "xorFold", "folds": 11}],
            "clkConfig.hardening[0] (xorFold): 11 folds need a length divisible by 2048, "
            "but the step is given 1024 bits",
        ),
        (
            [{"type": "balance"}, {"type": "xorFold", "folds": 12}],
            "clkConfig.hardening[1] (xorFold): 12 folds need a length divisible by 4096, "
            "but the step is given 2048 bits",
        ),
        (
            [{"type": "rule90", "iterations": 0}],
            "clkConfig.hardening[0] (rule90): iterations is 0; expected an integer from 1 to 4611686018427387904",
        ),
        (
            [{"type": "xorFold", "folds": 9}, {"type": "rule90"}],
            "clkConfig.hardening[1] (rule90): rule90 needs at least 3 bits, but the step is given 2",
        ),
        (
            [{"type": "rehash", "window": 8, "step": 4}],
            "clkConfig.hardening[0] (rehash): bits is missing; expected an integer from 1 to 65536",
        ),
        (
            [{"type": "rehash", "window": 2048, "step": 4, "bits": 2}],
            "clkConfig.hardening[0] (rehash): window 2048 is longer than the 1024 bits the step is given",
        ),
        (
            [{"type": "randomizedResponse", "probability": 1, "seedFeatures": [NAME]}],
            RR + "probability is 1; expected " + NUMBER,
        ),
        (
            [{"type": "randomizedResponse", "probability": 0, "seedFeatures": [NAME]}],
            RR + "probability is 0; expected " + NUMBER,
        ),
        (
            [{"type": "randomizedResponse", "probability": "0.1", "seedFeatures": [NAME]}],
            RR + 'probability is "0.1"; expected ' + NUMBER,
        ),
        (
            [{"type": "randomizedResponse", "probability": 0.1}],
            RR + "seedFeatures is missing; expected " + FEATURES,
        ),
        (
            [{"type": "randomizedResponse", "probability": 0.1, "seedFeatures": []}],
            RR + "seedFeatures is []; expected " + FEATURES,
        ),
        (
            [{"type": "randomizedResponse", "probability": 0.1, "seedFeatures": ["SURNAME"]}],
            RR + "seedFeatures: there is no feature 'SURNAME'",
        ),
        (
            [{"type": "randomizedResponse", "probability": 0.1, "seedFeatures": ["INDEX"]}],
            RR + "seedFeatures: feature 'INDEX' is ignored; " + HASHED,
        ),
        (
            [{"type": "randomizedResponse", "probability": 0.1, "seedFeatures": [NAME, NAME]}],
            RR + f"seedFeatures lists feature '{NAME}' twice",
        ),
        (
            [{"type": "salt", "features": [NAME]}],
            SALT + "saltFeature is missing; expected a feature identifier (a string)",
        ),
        (
            [{"type": "salt", "saltFeature": "YOB", "features": [NAME]}],
            SALT + "saltFeature: there is no feature 'YOB'",
        ),
        (
            [{"type": "salt", "saltFeature": "INDEX", "features": [NAME]}],
            SALT + "saltFeature: feature 'INDEX' is ignored; " + HASHED,
        ),
        (
            [{"type": "salt", "saltFeature": DOB, "features": ["INDEX"]}],
            SALT + "features: feature 'INDEX' is ignored; " + HASHED,
        ),
        (
            [{"type": "salt", "saltFeature": DOB, "features": [DOB]}],
            SALT + f"feature '{DOB}' is salted by itself; a feature cannot salt its own tokens",
        ),
        (
            [
                {"type": "salt", "saltFeature": DOB, "features": [NAME]},
                {"type": "salt", "saltFeature": GENDER, "features": [NAME]},
            ],
            f"clkConfig.hardening[1] (salt): feature '{NAME}' is salted twice (also by clkConfig.hardening[0])",
        ),
        (
            [{"type": "balance"}] * 15,
            "clkConfig.hardening[14] (balance): makes 33554432 bits; a CLK may have at most 16777216",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_step_or_feature(steps: Any, problem: str) -> None:
    assert hardening_problems(hardened(steps)) == [problem]


def test_every_mistake_is_reported() -> None:
    problems = hardening_problems(hardened([{"type": "nope"}, {"type": "xorFold", "folds": -1}, {"type": "permute"}]))
    assert [p.split(":")[0] for p in problems] == ["clkConfig.hardening[0]", "clkConfig.hardening[1] (xorFold)"]


@pytest.mark.parametrize(
    "clk_config, problem",
    [
        (
            {"xorFolds": 1, "xor_folds": 2},
            "clkConfig: xorFolds 1 and xor_folds 2 disagree; give the number of folds once, as xorFolds",
        ),
        ({"xor_folds": "1"}, 'clkConfig.xor_folds is "1"; expected an integer from 0 to 62'),
    ],
)
def test_folds_mistakes(clk_config: Dict[str, Any], problem: str) -> None:
    document = copy.deepcopy(BASE)
    document["clkConfig"].update(clk_config)
    assert hardening_problems(document) == [problem]


def test_a_good_hardening_reads_into_its_steps_and_lengths() -> None:
    document = hardened(
        [
            {"type": "salt", "saltFeature": DOB, "features": [NAME]},
            {"type": "balance"},
            {"type": "rule90"},
            {"type": "xorFold", "folds": 2},
            {"type": "randomizedResponse", "probability": 0.05, "seedFeatures": [NAME, GENDER]},
        ],
        xorFolds=1,
    )
    assert hardening_problems(document) == []
    hardening = read_hardening(document)
    assert (hardening.filter_bits, hardening.xor_folds, hardening.hash_bits, hardening.clk_bits) == (1024, 1, 2048, 512)
    assert [(s.type, s.bits_in, s.bits_out) for s in hardening.post_steps] == [
        ("balance", 1024, 2048),
        ("rule90", 2048, 2048),
        ("xorFold", 2048, 512),
        ("randomizedResponse", 512, 512),
    ]
    assert [s.index for s in hardening.salts] == [0]
    assert hardening.post_steps[1].params == {"iterations": 1}
    assert hardening.post_steps[3].params["missingValues"] == {NAME: ("", ""), GENDER: ("", "")}
    assert hardening.summary() == [
        f"salt({NAME} by {DOB})",
        "balance",
        "rule90(iterations=1)",
        "xorFold(folds=2)",
        f"randomizedResponse(probability=0.05, seedFeatures={NAME}, {GENDER})",
    ]


def test_an_unhardened_schema_has_no_steps_and_its_own_length() -> None:
    hardening = read_hardening(copy.deepcopy(BASE))
    assert (hardening.hardened, hardening.clk_bits, hardening.hash_bits, hardening.summary()) == (False, 1024, 1024, [])


def test_xor_folds_is_honoured_and_warned_about_but_xor_folds_is_clkhash_s_own() -> None:
    document = copy.deepcopy(BASE)
    assert folds(document) == (0, None) and xor_folds_warning(document) is None
    document["clkConfig"]["xorFolds"] = 2
    assert folds(document) == (2, "xorFolds")
    assert xor_folds_warning(document) == (
        "Warning: clkConfig.xorFolds is 2: the features are hashed into 4096 bits and XOR-folded to l = 1024, as the "
        "linkage schema reference says; clkhash-based tools (clkhash, anonlink-client 0.1.5 to 0.3.0) ignore xorFolds "
        "and make unfolded CLKs from this schema, which do not link with these"
    )
    document["clkConfig"]["xor_folds"] = 2  # clkhash folds too: nothing to warn about
    assert xor_folds_warning(document) is None
    del document["clkConfig"]["xorFolds"]
    assert folds(document) == (2, "xor_folds")


def test_conversion_from_version_1_keeps_hardening_and_xor_folds_as_written() -> None:
    v1 = json.loads((ROOT / "tests" / "data" / "good-schema-v1.json").read_text())
    steps: List[Dict[str, Any]] = [{"type": "permute"}]
    v1["clkConfig"]["hardening"] = steps
    v1["clkConfig"]["xorFolds"] = 1
    converted = convert_to_latest_version(copy.deepcopy(v1))
    assert "hardening" not in converted["clkConfig"]  # what clkhash does
    kept = keep_as_written(v1, converted)
    assert kept["clkConfig"]["hardening"] == steps and kept["clkConfig"]["xorFolds"] == 1
    assert "xor_folds" not in kept["clkConfig"]
    assert hardening_problems(kept) == []
