"""Pipeline files: schema and semantic checks, each with a located, actionable message."""

from __future__ import annotations

from pathlib import Path

import pytest

from r2o.errors import ManifestError
from r2o.pipeline import spec
from r2o.repo import Repository
from tests.pipeline.conftest import r2o

CHAIN = """apiVersion: r2o/v1
kind: Pipeline
name: chain
description: test
steps:
  gen: {component: gen, foreach: day, parameters: {date: "${day}"}}
  acc:
    component: acc
    foreach: day
    inputs:
      value: {step: gen, output: value}
      prev: {step: acc, output: total, day: previous}
  report: {component: gather, inputs: {days: {step: acc, output: total, collect: all}}}
"""

BAD = [
    (
        "value: {step: gen, output: value}",
        "value: {step: gne, output: value}",
        "no step named 'gne'",
        "did you mean 'gen'?",
    ),
    (
        "value: {step: gen, output: value}",
        "value: {step: gen, output: valeu}",
        "has no output 'valeu'",
        "did you mean 'value'?",
    ),
    (
        "value: {step: gen, output: value}",
        "value: {step: gen, output: value}\n      nope: {step: gen, output: value}",
        "acc has no input 'nope'",
        "",
    ),
    (
        "prev: {step: acc, output: total, day: previous}",
        "prev: {step: acc, output: total}",
        "steps form a cycle: acc -> acc",
        "day: previous",
    ),
    (
        "prev: {step: acc, output: total, day: previous}",
        "prev: {step: report, output: report}",
        "steps form a cycle",
        "",
    ),
    (
        "{days: {step: acc, output: total, collect: all}}",
        "{days: {step: acc, output: total}}",
        "runs once per day but 'report' runs once",
        "collect: all",
    ),
    ('parameters: {date: "${day}"}', 'parameters: {date: "${day}", sleep: 99}', "above the maximum 60", ""),
    ('parameters: {date: "${day}"}', 'parameters: {date: "${dya}"}', "unknown variable ${dya}", ""),
    ("component: acc", "component: acc\n    bogus: 1", "unknown key 'bogus'", ""),
]


def _write(repo: Path, text: str) -> Path:
    path = repo / "pipelines" / "chain.yaml"
    path.write_text(text)
    return path


def test_the_fixture_pipeline_loads(pipe_repo: Path) -> None:
    pipeline = spec.load(Repository(pipe_repo), "chain")
    assert list(pipeline.steps) == ["gen", "acc", "side", "report"]
    assert pipeline.steps["acc"].inputs["prev"].day == "previous"
    assert pipeline.steps["report"].inputs["days"].collect


@pytest.mark.parametrize(("old", "new", "message", "hint"), BAD)
def test_bad_pipelines(pipe_repo: Path, old: str, new: str, message: str, hint: str) -> None:
    assert old in CHAIN
    _write(pipe_repo, CHAIN.replace(old, new, 1))
    with pytest.raises(ManifestError) as info:
        spec.load(Repository(pipe_repo), "chain")
    text = str(info.value)
    assert message in text and hint in text
    assert "pipelines/chain.yaml:" in text  # every problem names the file and line


def test_format_mismatch(pipe_repo: Path) -> None:
    # acc's value input is text; feed it a netcdf pipeline input
    text = CHAIN.replace(
        "steps:\n", 'inputs: {grid: {path: "grid_${day}.nc", format: netcdf}}\nsteps:\n'
    ).replace("value: {step: gen, output: value}", "value: {pipeline: grid}")
    _write(pipe_repo, text)
    with pytest.raises(
        ManifestError, match="format mismatch: pipeline input 'grid' is netcdf but input 'value' expects text"
    ):
        spec.load(Repository(pipe_repo), "chain")


def test_previous_day_needs_an_optional_input(pipe_repo: Path) -> None:
    _write(
        pipe_repo,
        CHAIN.replace(
            "value: {step: gen, output: value}\n      prev: {step: acc, output: total, day: previous}",
            "value: {step: acc, output: total, day: previous}",
        ),
    )
    with pytest.raises(ManifestError, match="is required, but the first day has no previous day"):
        spec.load(Repository(pipe_repo), "chain")


def test_validate_covers_pipelines(pipe_repo: Path) -> None:
    proc = r2o("validate", cwd=pipe_repo)
    assert proc.returncode == 0, proc.stderr
    assert "ok: 1 pipeline valid: chain" in proc.stdout
    _write(pipe_repo, CHAIN.replace("output: value", "output: valeu"))
    proc = r2o("validate", cwd=pipe_repo)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "steps.acc.inputs.value.output" in proc.stderr and "did you mean 'value'?" in proc.stderr


def test_unknown_pipeline_suggests(pipe_repo: Path) -> None:
    proc = r2o("pipeline", "plan", "chian", "--start", "2024-07-15", cwd=pipe_repo)
    assert proc.returncode == 4
    assert "did you mean 'chain'?" in proc.stderr
