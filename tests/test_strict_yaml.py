"""The strict YAML loader: duplicates, aliases, sizes, encodings, and that nothing else escapes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import hypothesis.strategies as st
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from r2o import manifest, strict_yaml
from r2o.errors import ManifestError, R2OError


def load_text(tmp_path: Path, text: str | bytes) -> strict_yaml.YamlDocument:
    path = tmp_path / "doc.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return strict_yaml.load(path)


def test_lines_are_recorded(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "a: 1\nb:\n  c: [x, y]\n  d: {e: 2}\n")
    assert doc.line(("a",)) == 1
    assert doc.line(("b", "c")) == 3
    assert doc.line(("b", "d", "e")) == 4
    assert doc.line(("b", "c", 5)) == 3  # falls back to the deepest known ancestor


def test_timestamps_stay_strings(tmp_path: Path) -> None:
    assert load_text(tmp_path, "day: 2024-07-15\n").data == {"day": "2024-07-15"}


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load_text(tmp_path, "a: 1\nb: 2\na: 3\n")
    (problem,) = info.value.problems
    assert problem.line == 3
    assert "first defined on line 1" in problem.message


def test_shared_alias_is_fine(tmp_path: Path) -> None:
    doc = load_text(tmp_path, "base: &b {x: 1}\nuse: *b\n")
    assert doc.data["use"] == {"x": 1}


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="alias bomb"):
        load_text(tmp_path, "a: &a [*a]\n")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError):
        load_text(tmp_path, "[" * 5000 + "]" * 5000)


def test_size_limit(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="limit"):
        load_text(tmp_path, "a: " + "x" * (strict_yaml.MAX_BYTES + 1))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        strict_yaml.load(tmp_path / "absent.yaml")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=yaml_values)
def test_arbitrary_documents_raise_only_r2o_errors(tmp_path: Path, doc: object) -> None:
    """Whatever YAML a user writes, r2o either loads it or explains it: never another exception."""
    folder = tmp_path / "components" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "component.yaml").write_text(yaml.safe_dump(doc))
    with contextlib.suppress(R2OError):
        manifest.load(folder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_r2o_errors(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "components" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "component.yaml").write_text(text)
    with contextlib.suppress(R2OError):
        manifest.load(folder)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_r2o_errors(tmp_path: Path, data: bytes) -> None:
    folder = tmp_path / "components" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "component.yaml").write_bytes(data)
    with contextlib.suppress(R2OError):
        manifest.load(folder)


GOOD_MANIFEST = yaml.safe_load((Path(__file__).parent / "manifests" / "good" / "component.yaml").read_text())


def _paths(value: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


LEAF_PATHS = [p for p in _paths(GOOD_MANIFEST) if p]
odd_values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | yaml_values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(LEAF_PATHS), value=odd_values)
def test_mutated_manifests_raise_only_r2o_errors(
    tmp_path: Path, path: tuple[object, ...], value: object
) -> None:
    """One field of a valid manifest replaced by anything: loaded or explained, never a crash."""
    import copy

    doc = copy.deepcopy(GOOD_MANIFEST)
    target = doc
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    folder = tmp_path / "components" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "component.yaml").write_text(yaml.safe_dump(doc))
    with contextlib.suppress(R2OError):
        manifest.load(folder)
