"""setup.py and requirements.txt agree.

setup.py states lower bounds (what the package needs); requirements.txt pins the
exact versions of a tested environment. Every requirement of setup.py, including
the ``tutorials`` and ``test`` extras, must be pinned in requirements.txt to a
version it allows, and requirements.txt pins nothing but exact versions.
"""

import ast
import re
from typing import Dict, List

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT


def setup_lists() -> Dict[str, List[str]]:
    """INSTALL_REQUIRES and every list of EXTRAS_REQUIRE, read from setup.py without running it."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    lists: Dict[str, List[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "INSTALL_REQUIRES":
                lists["install"] = ast.literal_eval(node.value)
            elif name == "EXTRAS_REQUIRE":
                lists.update(ast.literal_eval(node.value))
    return lists


def pins() -> Dict[str, str]:
    """name -> version of every line of requirements.txt."""
    found: Dict[str, str] = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[A-Za-z0-9,._-]+\])?==([A-Za-z0-9.+!-]+)", line)
        assert match, f"requirements.txt: {line!r} is not an exact pin (name==version)"
        name = canonicalize_name(match.group(1))
        assert name not in found, f"requirements.txt pins {name} twice"
        found[name] = match.group(3)
    return found


REQUIREMENTS = [(group, text) for group, texts in setup_lists().items() for text in texts]


def test_setup_py_has_the_install_tutorials_and_test_lists() -> None:
    assert {"install", "tutorials", "test"} <= set(setup_lists())


@pytest.mark.parametrize("group,text", REQUIREMENTS, ids=[f"{g}:{t}" for g, t in REQUIREMENTS])
def test_every_setup_requirement_is_pinned_to_an_allowed_version(group: str, text: str) -> None:
    requirement = Requirement(text)
    assert requirement.specifier, f"setup.py: {text} has no lower bound"
    assert any(spec.operator in (">=", "~=", "==") for spec in requirement.specifier), f"{text}: no lower bound"
    pinned = pins().get(canonicalize_name(requirement.name))
    assert pinned is not None, f"requirements.txt does not pin {requirement.name} ({group})"
    assert requirement.specifier.contains(pinned, prereleases=True), f"{requirement.name}=={pinned} violates {text}"


def test_tutorial_requirements_are_also_test_requirements() -> None:
    lists = setup_lists()
    test_names = {canonicalize_name(Requirement(t).name) for t in lists["test"]}
    assert {canonicalize_name(Requirement(t).name) for t in lists["tutorials"]} <= test_names


def test_requirements_txt_does_not_pin_the_project_itself() -> None:
    assert "anonlink-client" not in pins() and "anonlinkclient" not in pins()
