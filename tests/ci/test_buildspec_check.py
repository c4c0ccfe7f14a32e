"""The buildspec structure check: one broken buildspec per file in bad_buildspecs/, and what it must say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from r2o.ci import buildspec
from r2o.errors import ManifestError
from tests.test_cli import assert_clean_error, r2o

BAD = sorted((Path(__file__).parent / "bad_buildspecs").glob("*.yml"))

GOOD = """\
version: 0.2
env:
  shell: bash
  variables: {A: "1", N: 2, FLAG: true}
batch:
  fast-fail: false
  build-graph:
    - identifier: base
    - identifier: one
      depend-on: [base]
      ignore-failure: true
      env: {privileged-mode: true, variables: {T: one}}
    - identifier: two
      depend-on: [base, one]
phases:
  install:
    runtime-versions: {python: 3.11}
    commands: [echo install]
  build:
    on-failure: CONTINUE
    commands: [echo build]
    finally: [echo finally]
reports:
  golden: {files: ["*.xml"], base-directory: out, file-format: JUNITXML}
"""


def _expected(path: Path) -> str:
    match = re.search(r"^# error: (.*)$", path.read_text(), re.MULTILINE)
    assert match, f"{path.name} must say the error it gives in a '# error:' line"
    return match.group(1).strip()


def test_corpus_is_large_enough() -> None:
    assert len(BAD) >= 20


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_buildspec(path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        buildspec.load(path)
    text = str(info.value)
    assert _expected(path) in text, text
    assert f"{path}:" in text  # every problem names the file and a line


def test_good_buildspec_parses(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(GOOD)
    spec = buildspec.load(path)
    assert spec.variables == {"A": "1", "N": "2", "FLAG": "true"}
    assert [p.name for p in spec.phases] == ["install", "build"]
    build = spec.phase("build")
    assert (
        build is not None and build.on_failure == "CONTINUE" and build.finally_commands == ("echo finally",)
    )
    assert spec.batch_kind == "build-graph"
    assert [n.identifier for n in spec.nodes] == ["base", "one", "two"]
    assert spec.nodes[1].ignore_failure and spec.nodes[1].variables == {"T": "one"}
    assert spec.nodes[2].depend_on == ("base", "one")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(
        "version: 0.3\nphases:\n  biuld:\n    commands: [x]\nbatch:\n  build-graph:\n"
        "    - identifier: a-b\n      depend-on: [zz]\n"
    )
    with pytest.raises(ManifestError) as info:
        buildspec.load(path)
    assert len(info.value.problems) == 4, info.value


def test_matrix_expands_to_one_build_per_value(tmp_path: Path) -> None:
    path = tmp_path / "buildspec.yml"
    path.write_text(
        "version: 0.2\nbatch:\n  build-matrix:\n    static: {env: {variables: {S: s}}}\n"
        "    dynamic:\n      env:\n        variables:\n          T: [a-1, b]\n          U: [x, y]\n"
        "phases:\n  build:\n    commands: [echo]\n"
    )
    spec = buildspec.load(path)
    assert [n.variables for n in spec.nodes] == [
        {"S": "s", "T": "a-1", "U": "x"},
        {"S": "s", "T": "a-1", "U": "y"},
        {"S": "s", "T": "b", "U": "x"},
        {"S": "s", "T": "b", "U": "y"},
    ]
    assert len({n.identifier for n in spec.nodes}) == 4


def test_find_cycle() -> None:
    assert buildspec.find_cycle({"a": ["b"], "b": []}) == []
    assert buildspec.find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]


def test_ci_check_command(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    proc = r2o("ci", "check", str(good), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 builds in a build-graph" in proc.stdout
    assert_clean_error(r2o("ci", "check", str(BAD[0]), cwd=tmp_path), 3, "problem")
