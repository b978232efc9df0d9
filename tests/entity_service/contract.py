"""Checks of requests and responses against the Entity Service's OpenAPI definition.

``entity-service-openapi.yaml`` (next to this module) is the real v1.15 API
definition. :class:`Contract` matches a request path to one of its paths,
checks a request the way the real service's framework (connexion) does before
any view runs (required header parameters, the JSON body against the request
schema), and checks a response: its status must be declared for the operation,
and a JSON body must fit the declared schema. Where the definition only
describes a body in prose (the run result) or through a discriminator (the run
status), :data:`RESULT_SCHEMAS` and :meth:`Contract.run_status_schema` supply it.

Where the real v1.15.1 service answers outside its own definition, the checks
allow exactly what it sends, nothing more (:data:`REAL_SERVICE_LEEWAY`):
``"title": null`` in the problems of its own checks, and ``"time_started": null``
in the status of a run that has not started.
"""

import functools
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Tuple

import yaml
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker

SPEC_PATH = Path(__file__).with_name("entity-service-openapi.yaml")
API_PREFIX = "/api/v1"

_PAIR = {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 0}}

#: The run result bodies, as the result endpoint's description documents them.
RESULT_SCHEMAS: Dict[str, Dict[str, Any]] = {
    "groups": {
        "type": "object",
        "required": ["groups"],
        "properties": {"groups": {"type": "array", "items": {"type": "array", "minItems": 2, "items": _PAIR}}},
    },
    "similarity_scores": {
        "type": "object",
        "required": ["similarity_scores"],
        "properties": {
            "similarity_scores": {
                "type": "array",
                "items": {
                    "type": "array",
                    "minItems": 3,
                    "maxItems": 3,
                    "items": {"anyOf": [_PAIR, {"type": "number", "minimum": 0, "maximum": 1}]},
                },
            }
        },
    },
    "mask": {
        "type": "object",
        "required": ["mask"],
        "properties": {"mask": {"type": "array", "items": {"type": "integer", "enum": [0, 1]}}},
    },
    "permutation": {
        "type": "object",
        "required": ["permutation", "rows"],
        "properties": {
            "permutation": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "rows": {"type": "integer", "minimum": 0},
        },
    },
}

JSON_TYPES = ("application/json", "application/problem+json")

#: Properties the real service answers ``null`` although the definition says ``string``:
#: (path of the property's schema in ``components.schemas``). Each is made ``nullable``.
REAL_SERVICE_LEEWAY: Tuple[Tuple[Any, ...], ...] = (
    ("Problem", "properties", "title"),  # safe_fail_request problems: "title": null
    ("queued", "allOf", 1, "properties", "time_started"),  # created/queued runs: "time_started": null
)


class Contract:
    """The OpenAPI definition, and checks of bodies against it.

    :param spec_path: the YAML definition (default: the copy next to this module).
    """

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        with open(spec_path, encoding="utf-8") as handle:
            self.spec: Dict[str, Any] = yaml.safe_load(handle)
        for where in REAL_SERVICE_LEEWAY:
            node: Any = self.spec["components"]["schemas"]
            for key in where:
                node = node[key]
            node["nullable"] = True
        self._paths: List[Tuple[str, Pattern[str]]] = [
            (template, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"))
            for template in self.spec["paths"]
        ]

    def match(self, path: str) -> Optional[Tuple[str, Dict[str, str]]]:
        """The path template a path below ``/api/v1`` matches, with its path parameters."""
        for template, pattern in self._paths:
            found = pattern.match(path)
            if found:
                return template, found.groupdict()
        return None

    def operation(self, method: str, template: str) -> Optional[Dict[str, Any]]:
        """The operation object of ``method`` on ``template``, if the API has one."""
        return self.spec["paths"][template].get(method.lower())

    def resolve(self, node: Any) -> Any:
        """Follow a local ``$ref`` (``#/components/...``) to what it names."""
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def schema_problems(self, schema: Dict[str, Any], instance: Any, formats: bool = True) -> List[str]:
        """What is wrong with ``instance`` under ``schema`` (which may ``$ref`` the components).

        :param formats: also check ``format`` (date-time, ...) as the contract states it.
        """
        rooted = dict(schema, components=self.spec["components"])
        validator = OAS30Validator(rooted, format_checker=oas30_format_checker if formats else None)
        problems = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{where or '<body>'}: {_shorten(error.message)}")
        return problems

    def request_problems(
        self, method: str, template: str, headers: Dict[str, str], body: Any, has_body: bool
    ) -> List[str]:
        """Problems connexion would answer 400 for, in its words: missing required
        header parameters, and a JSON body that does not fit the request schema
        (the best-matching error, followed by `` - 'field.path'`` when it is not
        about the whole body).

        :param headers: the request headers, keys lower case.
        :param body: the parsed JSON body (ignored unless ``has_body``).
        """
        operation = self.operation(method, template) or {}
        params = list(self.spec["paths"][template].get("parameters", [])) + operation.get("parameters", [])
        for param in map(self.resolve, params):
            if param["in"] == "header" and param.get("required") and param["name"].lower() not in headers:
                return [f"Missing header parameter '{param['name']}'"]
        request_body = operation.get("requestBody")
        if not request_body:
            return []
        if not has_body:
            return ["Request body is required"] if request_body.get("required") else []
        if "application/json" not in request_body["content"]:
            return []  # a binary body (binaryclks): its headers say what it holds
        schema = request_body["content"]["application/json"]["schema"]
        validator = OAS30Validator(dict(schema, components=self.spec["components"]))
        errors = list(validator.iter_errors(body))
        if not errors:
            return []
        error = best_match(errors)
        field = ".".join(str(part) for part in error.path)
        return [_shorten(error.message) + (f" - '{field}'" if field else "")]

    def response_problems(
        self,
        method: str,
        template: str,
        status: int,
        content_type: Optional[str],
        body: Any,
        extra_schema: Optional[Dict[str, Any]] = None,
    ) -> List[str]:
        """How a response breaks the contract: undeclared status, or a JSON body not fitting the schema.

        :param body: the parsed JSON body, or ``None`` if there is none.
        :param extra_schema: a schema the body must also fit (run results, run status by state).
        """
        operation = self.operation(method, template) or {}
        responses = operation.get("responses", {})
        declared = responses.get(str(status)) or responses.get("default")
        if declared is None:
            return [f"status {status} is not declared for {method} {template}"]
        declared = self.resolve(declared)
        problems = []
        content = declared.get("content", {})
        if content:
            if body is None:
                problems.append(f"status {status} must have a body ({', '.join(content)})")
            elif (content_type or "").split(";")[0].strip() not in JSON_TYPES:
                problems.append(f"content type {content_type!r} is not JSON")
            else:
                schema = next(iter(content.values())).get("schema")
                if schema:
                    problems += self.schema_problems(schema, body)
        if extra_schema is not None and body is not None:
            problems += self.schema_problems(extra_schema, body)
        return problems

    def run_status_schema(self, state: str) -> Dict[str, Any]:
        """The schema a run status of ``state`` must fit (the ``RunStatus`` discriminator)."""
        name = state if state in self.spec["components"]["schemas"] else "RunStatus"
        return {"$ref": f"#/components/schemas/{name}"}

    def validate_definition(self) -> None:
        """Check the YAML is itself a valid OpenAPI 3.0 definition (raises if not)."""
        from openapi_spec_validator import validate

        validate(self.spec)


@functools.cache
def shared_contract() -> Contract:
    """One :class:`Contract` per process (parsing the YAML takes a while; checks do not mutate it)."""
    return Contract()


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
