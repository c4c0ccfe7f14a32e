"""The local executor on the fixture pipeline, run natively: plan, cache, resume, failure, parallelism."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from r2o.pipeline import plan as planning
from r2o.pipeline import spec
from r2o.repo import Repository
from tests.pipeline.conftest import R2O, make_repo, r2o, set_sleep

pytestmark = pytest.mark.integration  # each test runs a whole pipeline of native processes

RUN = ("pipeline", "run", "chain", "--start", "2024-07-15", "--days", "3", "--native")


def _report(repo: Path, days: int = 3) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (repo / ".r2o" / "pipelines" / "chain" / f"2024-07-15+{days}d" / "report.json").read_text()
    )
    return data


def _status(report: dict[str, Any]) -> dict[str, str]:
    return {t["id"]: t["status"] for t in report["tasks"]}


def _outputs(repo: Path) -> dict[str, bytes]:
    """Every promoted output file (provenance aside: it carries a creation time)."""
    run_dir = repo / ".r2o" / "pipelines" / "chain" / "2024-07-15+3d"
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
        and p.name != "provenance.json"
        and not p.name.endswith(".json")
        and "logs" not in p.parts
        and ".inputs" not in p.parts
    }


def test_plan_fans_out_chains_and_fans_in(pipe_repo: Path) -> None:
    pipeline = spec.load(Repository(pipe_repo), "chain")
    graph = planning.make_graph(pipeline, dt.date(2024, 7, 15), 3)
    by_id = {t.id: t for t in graph.tasks}
    assert len(graph.tasks) == 3 + 3 + 3 + 1
    assert by_id["gen/2024-07-16"].parameters["date"] == "2024-07-16"
    assert by_id["acc/2024-07-15"].deps == ("gen/2024-07-15",)  # the first day has no previous day
    assert [i.name for i in by_id["acc/2024-07-15"].inputs] == ["value"]
    assert by_id["acc/2024-07-17"].deps == ("gen/2024-07-17", "acc/2024-07-16")
    assert by_id["report"].deps == ("acc/2024-07-15", "acc/2024-07-16", "acc/2024-07-17")
    assert by_id["report"].inputs[0].collect
    order = [t.id for t in graph.tasks]
    for task in graph.tasks:  # a valid execution order
        assert all(order.index(d) < order.index(task.id) for d in task.deps)
    assert (
        graph.critical_path(
            {"gen/2024-07-15": 1, "acc/2024-07-15": 2, "acc/2024-07-16": 2, "acc/2024-07-17": 2, "report": 1}
        )
        == 8
    )
    proc = r2o("pipeline", "plan", "chain", "--start", "2024-07-15", "--days", "3", "--json", cwd=pipe_repo)
    assert proc.returncode == 0, proc.stderr
    assert [t["id"] for t in json.loads(proc.stdout)["tasks"]] == order


def test_run_then_a_second_run_does_no_work(pipe_repo: Path) -> None:
    proc = r2o(*RUN, cwd=pipe_repo)
    assert proc.returncode == 0, proc.stderr
    first = _report(pipe_repo)
    assert set(_status(first).values()) <= {"ran", "cached"}
    run_dir = pipe_repo / ".r2o" / "pipelines" / "chain" / "2024-07-15+3d"
    assert (run_dir / "report" / "report.txt").read_text() == (
        "total_2024-07-15.txt 16\ntotal_2024-07-16.txt 33\ntotal_2024-07-17.txt 51\n"
    )
    prov = json.loads((run_dir / "acc" / "2024-07-16" / "provenance.json").read_text())
    assert prov["parameters"] == {"sleep": "0"} and prov["backend"] == "native"
    assert set(prov["inputs"]) == {"value", "prev"} and len(prov["inputs"]["prev"]["sha256"]) == 64
    assert prov["outputs"]["total"]["file"] == "total.txt"
    mtimes = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*.txt")}
    proc = r2o(*RUN, cwd=pipe_repo)
    assert proc.returncode == 0, proc.stderr
    second = _report(pipe_repo)
    assert all(t["status"] == "cached" and t["cache_hit"] == "run" for t in second["tasks"])
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*.txt")} == mtimes
    # a changed parameter reruns what it feeds, and nothing else
    set_sleep(pipe_repo, "side", 0.01)
    proc = r2o(*RUN, cwd=pipe_repo)
    assert proc.returncode == 0, proc.stderr
    ran = {t for t, s in _status(_report(pipe_repo)).items() if s == "ran"}
    assert ran == {"side/2024-07-15", "side/2024-07-16", "side/2024-07-17"}


def test_a_failing_task_stops_its_dependents_only(pipe_repo: Path) -> None:
    path = pipe_repo / "pipelines" / "chain.yaml"
    path.write_text(
        path.read_text().replace(
            '{date: "${day}", sleep: 0}', '{date: "${day}", sleep: 0, fail_on: "2024-07-16"}', 1
        )
    )
    proc = r2o(*RUN, cwd=pipe_repo)
    assert proc.returncode == 13, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "gen/2024-07-16 failed" in proc.stderr and "exited with code 3" in proc.stderr
    assert "refusing 2024-07-16 as asked" in proc.stderr  # the log tail
    assert "r2o pipeline run chain --start 2024-07-15 --days 3 --native" in proc.stderr  # how to rerun
    assert "r2o run gen --native -p date=2024-07-16" in proc.stderr
    status = _status(_report(pipe_repo))
    assert status["gen/2024-07-16"] == "failed"
    assert status["acc/2024-07-16"] == status["acc/2024-07-17"] == status["report"] == "blocked"
    assert status["acc/2024-07-15"] == "ran"
    assert {status[f"side/2024-07-1{d}"] for d in (5, 6, 7)} <= {"ran", "cached"}
    assert not (pipe_repo / ".r2o" / "pipelines" / "chain" / "2024-07-15+3d" / "gen" / "2024-07-16").exists()
    report = _report(pipe_repo)
    failed = next(t for t in report["tasks"] if t["id"] == "gen/2024-07-16")
    assert failed["exit_code"] == 3


def test_independent_tasks_overlap_in_time(pipe_repo: Path) -> None:
    set_sleep(pipe_repo, "gen", 1.0)
    set_sleep(pipe_repo, "side", 1.1)  # not 1.0: the same key would run once and be shared
    proc = r2o(
        "pipeline",
        "run",
        "chain",
        "--start",
        "2024-07-15",
        "--days",
        "1",
        "--native",
        "--jobs",
        "2",
        cwd=pipe_repo,
    )
    assert proc.returncode == 0, proc.stderr
    tasks = {t["id"]: t for t in _report(pipe_repo, days=1)["tasks"]}
    a, b = tasks["gen/2024-07-15"], tasks["side/2024-07-15"]
    assert a["status"] == b["status"] == "ran"
    assert a["started"] < b["finished"] and b["started"] < a["finished"], (a, b)
    # with a budget of one vCPU they cannot overlap
    set_sleep(pipe_repo, "gen", 0.5)
    set_sleep(pipe_repo, "side", 0.6)
    proc = r2o(
        "pipeline",
        "run",
        "chain",
        "--start",
        "2024-07-15",
        "--days",
        "1",
        "--native",
        "--jobs",
        "1",
        cwd=pipe_repo,
    )
    assert proc.returncode == 0, proc.stderr
    tasks = {t["id"]: t for t in _report(pipe_repo, days=1)["tasks"]}
    a, b = tasks["gen/2024-07-15"], tasks["side/2024-07-15"]
    assert a["finished"] <= b["started"] or b["finished"] <= a["started"], (a, b)


def test_every_external_input_is_checked_before_any_task_starts(pipe_repo: Path) -> None:
    (pipe_repo / "pipelines" / "seeded.yaml").write_text(
        "apiVersion: r2o/v1\nkind: Pipeline\nname: seeded\ndescription: sums daily seeds\n"
        "inputs:\n  seed:\n    path: seeds/seed_${day}.txt\n    format: text\n"
        "    description: one seed file a day\n"
        "steps:\n  acc:\n    component: acc\n    foreach: day\n"
        "    inputs: {value: {pipeline: seed}, prev: {step: acc, output: total, day: previous}}\n"
    )
    (pipe_repo / "seeds").mkdir()
    for day in ("2024-07-15", "2024-07-16"):
        (pipe_repo / "seeds" / f"seed_{day}.txt").write_text("1\n")
    proc = r2o("pipeline", "run", "seeded", "--start", "2024-07-15", "--days", "4", "--native", cwd=pipe_repo)
    assert proc.returncode == 13, proc.stderr
    assert "2 input file(s) do not exist; no task was started" in proc.stderr
    assert "seeds/seed_2024-07-17.txt" in proc.stderr and "seeds/seed_2024-07-18.txt" in proc.stderr
    assert "one seed file a day" in proc.stderr
    assert not list((pipe_repo / ".r2o" / "cache" / "tasks").glob("[!.]*"))  # nothing ran


def _start_run(repo: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*R2O, *RUN, "--jobs", "1"], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_done(repo: Path, proc: subprocess.Popen[str], count: int) -> None:
    cache = repo / ".r2o" / "cache" / "tasks"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        entries = [p for p in cache.glob("*/*") if not p.name.startswith(".")] if cache.is_dir() else []
        if len(entries) >= count:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run did not progress")


def _slow(repo: Path) -> None:
    set_sleep(repo, "gen", 0.4)
    set_sleep(repo, "side", 0.4)


def test_resume_after_sigkill(tmp_path: Path) -> None:
    reference = make_repo(tmp_path / "reference")
    _slow(reference)
    assert r2o(*RUN, cwd=reference).returncode == 0

    repo = make_repo(tmp_path / "killed")
    _slow(repo)
    proc = _start_run(repo)
    _wait_for_done(repo, proc, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    run_dir = repo / ".r2o" / "pipelines" / "chain" / "2024-07-15+3d"
    promoted = [
        p
        for p in run_dir.glob("*/*")
        if p.is_dir() and not p.name.startswith(".") and p.parent.name not in ("logs", ".inputs")
    ]
    promoted += [p for p in run_dir.glob("report") if p.is_dir()]
    for folder in promoted:  # whatever was promoted is complete
        assert (folder / "provenance.json").is_file(), folder
    finished_before = len(
        [p for p in (repo / ".r2o" / "cache" / "tasks").glob("*/*") if not p.name.startswith(".")]
    )
    assert 2 <= finished_before < 10
    time.sleep(1.0)  # let the orphaned task (its own session) finish or not; it can only write its staging
    rerun = r2o(*RUN, cwd=repo)
    assert rerun.returncode == 0, rerun.stderr
    ran = [s for s in _status(_report(repo)).values() if s == "ran"]
    assert len(ran) <= 10 - 2  # finished tasks were not redone
    assert _outputs(repo) == _outputs(reference)
    leftovers = [p for p in (repo / ".r2o").rglob("*") if ".partial-" in p.name]
    assert leftovers == []


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [
        (signal.SIGINT, 130, "interrupted"),
        (signal.SIGTERM, 143, "stopped by SIGTERM"),
        (signal.SIGHUP, 129, "SIGHUP"),
    ],
)
def test_a_signal_stops_and_resumes(pipe_repo: Path, sig: signal.Signals, code: int, said: str) -> None:
    _slow(pipe_repo)
    proc = _start_run(pipe_repo)
    _wait_for_done(pipe_repo, proc, 1)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert said in stderr and "Traceback" not in stderr
    leftovers = [p for p in (pipe_repo / ".r2o").rglob("*") if ".partial-" in p.name]
    assert leftovers == []  # every running task's staging folder was removed
    report = _report(pipe_repo)
    assert report["interrupted"] is True
    assert "interrupted" in set(_status(report).values()) | {"interrupted"}
    assert r2o(*RUN, cwd=pipe_repo).returncode == 0
    assert set(_status(_report(pipe_repo)).values()) <= {"ran", "cached"}
