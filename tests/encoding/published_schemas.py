"""The JSON Schemas published in ``schemas/``, resolvable offline.

``schemas/linkage-schema-v*.json`` refer to clkhash's own JSON Schemas by their
``$id`` instead of copying them. :func:`registry` maps those ids to the files the
installed clkhash ships, and every file of ``schemas/`` to its own ``$id``, so
the published schemas can be used for validation without a network.
"""

import json
import pkgutil
from typing import Any, Dict, List

import jsonschema
from referencing import Registry, Resource

from tests.helpers import ROOT

SCHEMAS_DIR = ROOT / "schemas"
CLKHASH_SCHEMA_FILES = ("v1.json", "v2.json", "v3.json")


def clkhash_schema(name: str) -> Dict[str, Any]:
    """The JSON Schema ``name`` (``v1.json`` ...) that the installed clkhash ships."""
    data = pkgutil.get_data("clkhash", f"schemas/{name}")
    assert data is not None, f"clkhash ships no schemas/{name}"
    document: Dict[str, Any] = json.loads(data)
    return document


def published(name: str) -> Dict[str, Any]:
    """The document ``schemas/<name>``."""
    document: Dict[str, Any] = json.loads((SCHEMAS_DIR / name).read_text(encoding="utf-8"))
    return document


def schema_id(document: Dict[str, Any]) -> str:
    """The id a JSON Schema declares (``$id``, or ``id`` in draft 4)."""
    identifier = document.get("$id", document.get("id"))
    assert isinstance(identifier, str), "every published JSON Schema declares its id"
    return identifier


def registry() -> Registry:
    """A registry resolving clkhash's schema ids and every schema in ``schemas/``."""
    documents = [clkhash_schema(name) for name in CLKHASH_SCHEMA_FILES]
    documents += [published(path.name) for path in sorted(SCHEMAS_DIR.glob("*.json"))]
    return Registry().with_resources((schema_id(doc), Resource.from_contents(doc)) for doc in documents)


def errors(schema_name: str, instance: Any) -> List[str]:
    """Why ``instance`` does not conform to ``schemas/<schema_name>`` ([] if it does)."""
    schema = published(schema_name)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, registry=registry())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
