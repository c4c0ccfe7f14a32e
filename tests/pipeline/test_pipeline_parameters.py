"""Every task's parameters are checked at plan time, for every backend: a value that is bad on any day
fails `r2o pipeline plan`, `run` and `render` before anything runs, naming the task, the parameter
and the pipeline file (with its line)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from r2o.errors import ManifestError
from r2o.pipeline import plan as planning
from r2o.pipeline import spec
from r2o.repo import Repository
from tests.pipeline.conftest import r2o

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
GEN_PARAMETERS = 'parameters: {date: "${day}", sleep: 0}\n  acc:'


def _gen_parameters(repo: Path, parameters: str) -> None:
    """Replace the parameters of the chain's gen step (the first step)."""
    path = repo / "pipelines" / "chain.yaml"
    text = path.read_text()
    assert GEN_PARAMETERS in text
    path.write_text(text.replace(GEN_PARAMETERS, f"parameters: {parameters}\n  acc:", 1))


def _graph(repo: Path, days: int) -> planning.TaskGraph:
    return planning.make_graph(spec.load(Repository(repo), "chain"), dt.date(2024, 7, 15), days)


def test_a_bad_date_on_every_day(pipe_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _gen_parameters(pipe_repo, '{date: "${day}T00", sleep: 0}')
    spec.load(Repository(pipe_repo), "chain")  # the file itself is valid: ${day} is a known variable
    monkeypatch.chdir(pipe_repo)
    with pytest.raises(ManifestError) as caught:
        _graph(pipe_repo, 3)
    (problem,) = caught.value.problems
    assert (str(problem.file), problem.field, problem.line) == (
        "pipelines/chain.yaml",
        "steps.gen.parameters.date",
        9,
    )
    assert problem.message == (
        "task gen/2024-07-15: parameter 'date': '2024-07-15T00' is not a date (YYYY-MM-DD) "
        "(and 2 more tasks of step gen)"
    )
    assert "component.yaml" in problem.hint and caught.value.exit_code == 3


def test_a_value_bad_on_one_later_day_names_that_task(pipe_repo: Path) -> None:
    """An enum of two days: the third task is the only bad one."""
    manifest = pipe_repo / "components" / "gen" / "component.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            '  fail_on: {type: string, default: "never", description: a date on which to fail}\n',
            '  fail_on: {type: string, default: "never", description: a date on which to fail}\n'
            '  only: {type: enum, values: ["2024-07-15", "2024-07-16"], default: "2024-07-15"}\n',
        )
    )
    _gen_parameters(pipe_repo, '{date: "${day}", sleep: 0, only: "${day}"}')
    assert len(_graph(pipe_repo, 2).tasks) == 3 * 2 + 1  # both days fit (gen, acc, side; report)
    with pytest.raises(ManifestError) as caught:
        _graph(pipe_repo, 3)
    (problem,) = caught.value.problems
    assert (
        problem.field == "steps.gen.parameters.only"
        and problem.file == pipe_repo / "pipelines" / "chain.yaml"
    )
    assert problem.message.startswith("task gen/2024-07-17: parameter 'only': '2024-07-17' is not one of")
    assert "more task" not in problem.message


def test_every_bad_parameter_is_reported_once(pipe_repo: Path) -> None:
    _gen_parameters(pipe_repo, '{date: "${end}x", sleep: 0}')
    path = pipe_repo / "pipelines" / "chain.yaml"
    side = '  side:\n    component: gen\n    foreach: day\n    parameters: {date: "${day}", sleep: 0}'
    assert side in path.read_text()
    path.write_text(path.read_text().replace(side, side.replace("sleep: 0", 'sleep: "${start}"')))
    with pytest.raises(ManifestError) as caught:
        _graph(pipe_repo, 2)
    assert [(p.field, p.message) for p in caught.value.problems] == [
        (
            "steps.gen.parameters.date",
            "task gen/2024-07-15: parameter 'date': '2024-07-16x' is not a date (YYYY-MM-DD) "
            "(and 1 more task of step gen)",
        ),
        (
            "steps.side.parameters.sleep",
            "task side/2024-07-15: parameter 'sleep': '2024-07-15' is not a number "
            "(and 1 more task of step side)",
        ),
    ]


@pytest.mark.parametrize(
    "command",
    [
        ("pipeline", "plan", "chain"),
        ("pipeline", "run", "chain", "--native"),
        ("pipeline", "render", "chain", "--registry", REGISTRY, "--data-host-path", "/lake"),
    ],
)
def test_the_commands_fail_before_anything_runs(pipe_repo: Path, command: tuple[str, ...]) -> None:
    _gen_parameters(pipe_repo, '{date: "${day}T00", sleep: 0}')
    proc = r2o(*command, "--start", "2024-07-15", "--days", "2", cwd=pipe_repo)
    assert proc.returncode == 3, proc.stderr
    assert (
        "pipelines/chain.yaml:9: steps.gen.parameters.date: task gen/2024-07-15: parameter 'date': "
        "'2024-07-15T00' is not a date (YYYY-MM-DD)" in proc.stderr
    )
    assert "r2o pipeline plan chain" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == "" and not (pipe_repo / ".r2o" / "pipelines").exists()
