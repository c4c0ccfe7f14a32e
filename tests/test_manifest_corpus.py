"""Table-driven corpus: each file in manifests/bad/ is a broken component.yaml naming its error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from r2o.errors import ManifestError
from r2o.repo import Repository

CASES = sorted((Path(__file__).parent / "manifests" / "bad").glob("*.yaml"))
GOOD = Path(__file__).parent / "manifests" / "good" / "component.yaml"


def _header(raw: bytes, key: str) -> str:
    match = re.search(rb"^# " + key.encode() + rb": ?(.*)$", raw, re.MULTILINE)
    return match.group(1).decode().strip() if match else ""


def _repo_with(tmp_path: Path, manifest: bytes) -> Path:
    root = tmp_path / "repo"
    folder = root / "components" / "demo"
    folder.mkdir(parents=True)
    (folder / "component.yaml").write_bytes(manifest)
    (folder / "Dockerfile").write_text("FROM scratch\n")
    img = root / "base-images" / "python-sci"
    img.mkdir(parents=True)
    (img / "image.yaml").write_text(
        "apiVersion: r2o/v1\nkind: BaseImage\nname: python-sci\nversion: 1.0.0\n"
        "description: d\nrootfs: {suite: bookworm}\n"
    )
    (img / "Dockerfile").write_text("FROM scratch\n")
    return root


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_good_manifest_loads(tmp_path: Path) -> None:
    root = _repo_with(tmp_path, GOOD.read_bytes())
    loaded = Repository(root).loaded
    assert loaded.problems == []
    assert loaded.components["demo"].parameters["size"].default == 2


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_bad_manifest(case: Path, tmp_path: Path) -> None:
    raw = case.read_bytes()
    expect, field = _header(raw, "expect"), _header(raw, "field")
    generate = _header(raw, "generate")
    if generate.startswith("pad-to "):
        size = int(generate.split()[1])
        raw = raw + b"#" * (size - len(raw)) + b"\n"
    root = _repo_with(tmp_path, raw)
    problems = Repository(root).loaded.problems
    assert problems, f"{case.name}: no problem reported"
    matching = [p for p in problems if expect in p.message or expect in p.hint]
    assert matching, f"{case.name}: expected {expect!r}, got {[str(p) for p in problems]}"
    p = matching[0]
    assert str(p.file).endswith("components/demo/component.yaml") or str(p.file).endswith("components/demo")
    if field:
        assert p.field == field, f"{case.name}: field {p.field!r} != {field!r}"
        assert p.line is not None and p.line > 2, f"{case.name}: no line for {field}"
    with pytest.raises(ManifestError) as info:
        Repository(root).require_valid()
    assert expect in str(info.value)
