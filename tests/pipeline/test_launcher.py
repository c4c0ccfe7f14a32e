"""The Batch launcher, executed by /bin/sh (dash): its day of every array index is the task graph's day,
and the command it resolves for a child is the local run of that child's task.

References come from the task graph (Python's datetime) and from ``r2o.run.plan.make_plan``, never
from the Batch rendering under test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from r2o.pipeline import batch, launcher, spec
from r2o.pipeline import plan as planning
from r2o.render.batch import BatchOptions, DataVolume
from r2o.repo import Repository
from r2o.run.plan import make_plan
from tests.conftest import REPO_ROOT
from tests.pipeline.conftest import r2o

SH = "/bin/sh"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
# Every index of a run: the day and the day before, as the launcher computes them for its command.
DAYS_OF_EVERY_INDEX = (
    launcher.DAYS_SH
    + """days_from_civil "$1"; first=$r2o_n; i=0
while [ "$i" -lt "$2" ]; do
  civil_from_days $((first + i)); day=$r2o_ymd; civil_from_days $((first + i - 1))
  echo "$day $r2o_ymd"; i=$((i + 1))
done
"""
)


def _aqcast(start: dt.date, days: int) -> planning.TaskGraph:
    return planning.make_graph(spec.load(Repository(REPO_ROOT), "aqcast"), start, days)


def _shell_days(first: str, count: int) -> list[tuple[str, str]]:
    proc = subprocess.run(
        [SH, "-c", DAYS_OF_EVERY_INDEX, "days", first, str(count)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = proc.stdout.splitlines()
    assert len(lines) == count
    return [(day, prev) for day, prev in (line.split() for line in lines)]


def test_the_launcher_runs_the_day_functions_it_is_tested_with() -> None:
    assert launcher.DAYS_SH in launcher.LAUNCHER and batch.LAUNCHER == launcher.LAUNCHER
    assert "date " not in launcher.LAUNCHER and "date -" not in launcher.LAUNCHER  # no GNU date -d


@pytest.mark.parametrize(
    ("start", "days"),
    [
        ("2020-01-01", 3653),  # 10 years: 2020, 2024 and 2028 leap days
        ("2095-06-01", 3653),  # crosses 2100-02-28: 2100 is not a leap year
        ("1995-06-01", 3653),  # crosses 2000-02-29: 2000 is (divisible by 400)
    ],
)
def test_every_index_of_ten_years_is_the_graphs_day(start: str, days: int) -> None:
    graph = _aqcast(dt.date.fromisoformat(start), days)
    cmaq = sorted((t for t in graph.tasks if t.step == "cmaq"), key=lambda t: t.day or "")
    assert len(cmaq) == days + 1  # and AQcast's look-ahead day
    shell = _shell_days(start, days + 1)
    assert [day for day, _ in shell] == [t.day for t in cmaq]
    # the day before is the day of the restart input the graph gives each task (none on the first day)
    restarts = [next((i.sources[0].day for i in t.inputs if i.name == "restart"), None) for t in cmaq]
    assert restarts[0] is None
    assert [prev for _, prev in shell][1:] == restarts[1:]
    named = {day for day, _ in shell}
    if start == "2095-06-01":
        assert "2100-02-28" in named and "2100-03-01" in named and "2100-02-29" not in named
    leap_days = {d for d in named if d.endswith("-02-29")}
    assert (
        leap_days
        == {
            "2020-01-01": {"2020-02-29", "2024-02-29", "2028-02-29"},
            "2095-06-01": {"2096-02-29", "2104-02-29"},
            "1995-06-01": {"1996-02-29", "2000-02-29", "2004-02-29"},
        }[start]
    )


@pytest.mark.parametrize(("start", "days"), [("0001-01-01", 800), ("9997-11-01", 790)])
def test_the_first_and_last_representable_days(start: str, days: int) -> None:
    graph = _aqcast(dt.date.fromisoformat(start), days)
    wrf = sorted((t.day for t in graph.tasks if t.step == "wrf"), key=str)
    shell = _shell_days(start, days + 1)  # the reported days and AQcast's look-ahead day
    assert [day for day, _ in shell] == wrf
    if start == "0001-01-01":
        assert shell[0] == ("0001-01-01", "0000-12-31")  # the day before no task's day
    else:
        assert graph.dates[-1] == dt.date.max.isoformat() and shell[-1] == ("9999-12-31", "9999-12-30")


def test_a_malformed_first_day_stops_the_child() -> None:
    proc = subprocess.run(
        [SH, "-c", launcher.LAUNCHER, "r2o-task", "2024-7-15", "run", "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], launcher.DRY_RUN_ENV: "1"},
    )
    assert proc.returncode == 64 and "'2024-7-15' is not a day (YYYY-MM-DD)" in proc.stderr


# --- a child's resolved command is its task's local run ---------------------------------------------


def _dry_run(command: list[str], env: Mapping[str, str]) -> dict[str, list[str]]:
    """What the launcher would do: ``{"day": [...], "in": ["DEST SRC", ...], "argv": [...], ...}``."""
    assert command[:2] == ["sh", "-c"]
    proc = subprocess.run(
        [SH, *command[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ["PATH"], launcher.DRY_RUN_ENV: "1", **env},
    )
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        word, _, rest = line.partition(" ")
        seen.setdefault(word, []).append(rest)
    return seen


def _lake(graph: planning.TaskGraph, lake_run: str, source: planning.Source) -> str:
    """The lake layout the Batch design documents: pipeline files at their path, outputs in
    ``<run>/<step>/<day>/<file>``."""
    if source.path is not None:
        return f"/data/lake/{source.path}"
    assert source.task is not None and source.output is not None
    producer = graph.pipeline.steps[graph.task(source.task).step].component
    return f"/data/lake/{lake_run}/{source.task}/{producer.output(source.output).filename}"


def _local_argv(graph: planning.TaskGraph, task: planning.Task, tmp_path: Path) -> tuple[str, ...]:
    """The argv a local run of ``task`` has (its inputs stand-in files: make_plan only checks their kind)."""
    component = graph.pipeline.steps[task.step].component
    inputs: dict[str, Path] = {}
    for tin in task.inputs:
        path = tmp_path / "inputs" / tin.name
        if component.input(tin.name).kind == "directory":
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        inputs[tin.name] = path
    run = make_plan(component, parameters=task.parameters, inputs=inputs, output_dir=tmp_path / "out")
    return run.argv


def _check_children(
    graph: planning.TaskGraph,
    rendered: Mapping[str, Any],
    indexes: Sequence[int],
    tmp_path: Path,
) -> Iterator[str]:
    """Run each job's launcher at ``indexes`` (a plain job at 0) and compare with the graph's task."""
    lake_run = rendered["lake_run"]
    start = dt.date.fromisoformat(rendered["start"])
    task_ids = {t.id for t in graph.tasks}
    for call in rendered["submit_jobs"]:
        step = call["tags"]["r2o:step"]
        chunk = int(call["jobName"].rsplit("-", 1)[-1]) if call["jobName"][-1].isdigit() else 0
        command = call["containerOverrides"]["command"]
        size = call.get("arrayProperties", {}).get("size", 1)
        per_day = graph.pipeline.steps[step].per_day
        component = graph.pipeline.steps[step].component
        for i in indexes if per_day else [0]:
            assert i < size
            seen = _dry_run(command, {"AWS_BATCH_JOB_ARRAY_INDEX": str(i)} if size > 1 else {})
            day = (start + dt.timedelta(days=chunk * 10_000 + i)).isoformat()  # chunks of 10,000 days
            task = graph.task(f"{step}/{day}" if per_day else step)
            if per_day:
                assert seen["day"] == [day]
            assert tuple(seen["argv"]) == _local_argv(graph, task, tmp_path), task.id
            assert seen["out"] == [f"/data/lake/{lake_run}/{task.id}"]
            required = dict(line.split(" ", 1) for line in seen.get("in", []))
            optional = dict(line.split(" ", 1) for line in seen.get("opt", []))
            collected: list[str] = []
            for tin in task.inputs:
                spec_ = component.input(tin.name)
                if tin.collect:  # named as the local executor names them: <stem>_<day><suffix>
                    for s in tin.sources:
                        src = PurePosixPath(_lake(graph, lake_run, s))
                        collected.append(f"{spec_.path}/{src.stem}_{s.day}{src.suffix} {src}")
                    continue
                copies = required if spec_.required else optional
                assert copies.pop(spec_.path) == _lake(graph, lake_run, tin.sources[0]), (task.id, tin.name)
            assert required == {}, task.id
            # an optional copy the task does not have (the first day's restart) names no task's output
            for src in optional.values():
                assert src.removeprefix(f"/data/lake/{lake_run}/").rsplit("/", 1)[0] not in task_ids
            assert seen.get("all", []) == collected, task.id
            yield task.id


def test_each_childs_command_is_its_tasks_local_run(tmp_path: Path) -> None:
    """A 365-day AQcast render through the CLI: first, second, leap (2024-02-29) and last index."""
    proc = r2o(
        "pipeline",
        "render",
        "aqcast",
        "--start",
        "2024-01-01",
        "--days",
        "365",
        "--registry",
        REGISTRY,
        "--efs-file-system-id",
        "fs-12345678",
        "--json",
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    rendered = json.loads(proc.stdout)
    graph = _aqcast(dt.date(2024, 1, 1), 365)
    assert (dt.date(2024, 1, 1) + dt.timedelta(days=59)).isoformat() == "2024-02-29"
    every = [0, 1, 59, 364]
    checked = list(_check_children(graph, rendered, every, tmp_path))
    assert len(checked) == 6 * 4 + 1 and "compliance" in checked and "cmaq/2024-02-29" in checked


def test_moto_style_job_ids_give_the_same_day() -> None:
    """Where AWS_BATCH_JOB_ARRAY_INDEX is not set (moto), the index is the suffix of AWS_BATCH_JOB_ID."""
    graph = _aqcast(dt.date(2024, 1, 1), 365)
    plan = batch.make_plan(
        graph,
        dict.fromkeys((s.component.name for s in graph.pipeline.steps.values()), f"{REGISTRY}/x:1"),
        BatchOptions(registry=REGISTRY, data=DataVolume(efs_file_system_id="fs-12345678")),
    )
    command = list(next(j for j in plan.jobs if j.step == "cmaq").command)
    by_index = _dry_run(command, {"AWS_BATCH_JOB_ARRAY_INDEX": "59"})
    by_job_id = _dry_run(command, {"AWS_BATCH_JOB_ID": "0f1e2d3c-aaaa:59"})
    assert by_index == by_job_id and by_index["day"] == ["2024-02-29"] and by_index["prev"] == ["2024-02-28"]


def test_the_fixture_chain_childs_commands(pipe_repo: Path, tmp_path: Path) -> None:
    """The fixture chain (a day-to-day chain, a side branch, a fan-in and a number parameter given
    as an integer, which a run formats as the number it is: 0.0)."""
    proc = r2o(
        "pipeline",
        "render",
        "chain",
        "--start",
        "2024-02-27",
        "--days",
        "4",
        "--registry",
        REGISTRY,
        "--data-host-path",
        "/lake",
        "--json",
        cwd=pipe_repo,
    )
    assert proc.returncode == 0, proc.stderr
    rendered = json.loads(proc.stdout)
    graph = planning.make_graph(spec.load(Repository(pipe_repo), "chain"), dt.date(2024, 2, 27), 4)
    checked = list(_check_children(graph, rendered, [0, 1, 2, 3], tmp_path))
    assert "acc/2024-02-29" in checked and len(checked) == 3 * 4 + 1
    gen = next(c for c in rendered["submit_jobs"] if c["jobName"] == "chain-gen")
    assert _dry_run(gen["containerOverrides"]["command"], {"AWS_BATCH_JOB_ARRAY_INDEX": "2"})["argv"] == [
        "python3",
        "/app/gen.py",
        "2024-02-29",
        "0.0",
        "never",
        "/data/output/value.txt",
    ]
