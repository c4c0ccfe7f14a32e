"""The JSON Schemas r2o ships are valid Draft 2020-12 schemas (r2o.schema loads them unchecked)."""

from __future__ import annotations

from importlib import resources

import jsonschema
import pytest

from r2o.schema import load_schema

SHIPPED = sorted(
    f.name.removesuffix(".schema.json")
    for f in resources.files("r2o.schemas").iterdir()
    if f.name.endswith(".schema.json")
)


def test_every_manifest_kind_has_its_schema() -> None:
    assert SHIPPED == ["case", "component", "image", "pipeline"]


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema(name))


def test_a_malformed_schema_would_be_caught() -> None:
    """The check above is not vacuous: a wrong keyword type is a SchemaError."""
    broken = {**load_schema("component"), "type": 42}
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema(broken)
