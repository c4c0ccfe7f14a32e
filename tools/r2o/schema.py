"""JSON Schema validation of YAML documents, turned into located, friendly Problems."""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from r2o.errors import Problem, did_you_mean
from r2o.strict_yaml import FieldPath, YamlDocument, format_path

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in r2o/schemas/ by file stem, e.g. ``component``.

    Not checked against the metaschema here (a sixth of a second per process, paid by every command
    that reads a manifest): the shipped schemas are fixed files, checked by tests/test_schemas.py."""
    text = resources.files("r2o.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name))


def validate(doc: YamlDocument, schema_name: str) -> list[Problem]:
    """Every schema violation in ``doc``, each located by field path and line."""
    problems: list[Problem] = _non_finite(doc.data, (), doc)
    errors = sorted(_validator(schema_name).iter_errors(doc.data), key=lambda e: list(map(str, e.path)))
    for error in errors:
        problems.extend(_problems(error, doc))
    return problems


def _non_finite(value: Any, at: FieldPath, doc: YamlDocument) -> list[Problem]:
    """NaN and infinities pass JSON Schema's "number" but mean nothing in a manifest."""
    if isinstance(value, float) and not math.isfinite(value):
        return [Problem(doc.file, format_path(at), f"{value} is not a finite number", doc.line(at))]
    out: list[Problem] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _non_finite(v, (*at, str(k)), doc)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _non_finite(v, (*at, i), doc)
    return out


def _problems(error: ValidationError, doc: YamlDocument) -> list[Problem]:
    at: FieldPath = tuple(error.absolute_path)
    field = format_path(at)
    kind = error.validator
    schema: Any = error.schema
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        out = []
        for key in sorted(set(map(str, error.instance)) - set(allowed)):
            hint = did_you_mean(key, allowed) or f"allowed keys here: {', '.join(allowed)}"
            out.append(
                Problem(doc.file, format_path((*at, key)), f"unknown key '{key}'", doc.line((*at, key)), hint)
            )
        return out
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else str(error.message)
        where = field or "top level"
        return [
            Problem(
                doc.file, format_path((*at, missing)), f"required field is missing (in {where})", doc.line(at)
            )
        ]
    if kind == "type":
        wanted: Any = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        expected = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return [
            Problem(doc.file, field, f"must be {expected}, not {_describe(error.instance)}", doc.line(at))
        ]
    if kind in ("enum", "const"):
        value: Any = error.validator_value
        choices: list[Any] = list(value) if kind == "enum" else [value]
        hint = did_you_mean(str(error.instance), [str(c) for c in choices])
        listed = ", ".join(json.dumps(c) for c in choices)
        return [
            Problem(
                doc.file, field, f"{json.dumps(error.instance)} is not one of: {listed}", doc.line(at), hint
            )
        ]
    if kind == "pattern":
        return [
            Problem(
                doc.file,
                field,
                f"{json.dumps(error.instance)} does not match {error.validator_value}",
                doc.line(at),
            )
        ]
    if kind in ("oneOf", "anyOf"):
        return _alternatives(error, doc)
    if kind == "propertyNames":
        return [Problem(doc.file, field, f"key {error.message}", doc.line(at))]
    return [Problem(doc.file, field, str(error.message), doc.line(at))]


def _alternatives(error: ValidationError, doc: YamlDocument) -> list[Problem]:
    """A value matching none of several shapes: explain it against the shape of its own type (a
    mapping against the mapping form), else list the types that are allowed."""
    at: FieldPath = tuple(error.absolute_path)
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    options: Any = error.validator_value
    wanted = [b.get("type") for b in options if isinstance(b, dict)]
    for _branch, errors in sorted(branches.items()):
        # A branch whose complaint is not about the type itself is the shape the author meant.
        if not any(e.validator == "type" and not e.relative_path for e in errors):
            out: list[Problem] = []
            for sub in errors:
                out.extend(_problems(sub, doc))
            return out
    names = [_TYPE_NAMES.get(str(w), str(w)) for w in wanted if isinstance(w, str)]
    expected = " or ".join(names) if names else "one of the allowed forms"
    return [
        Problem(
            doc.file, format_path(at), f"must be {expected}, not {_describe(error.instance)}", doc.line(at)
        )
    ]


def _describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    return f"{type(value).__name__} {value!r}"
