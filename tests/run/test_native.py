"""Native runs: the same command on the host, with container paths rewritten to host paths."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from r2o.errors import RunError, RunTimeoutError
from r2o.manifest import Component
from r2o.run.native import NativeExecutor, path_map, rewrite
from r2o.run.plan import RunPlan, make_plan
from r2o.run.runner import run

MAPPING = {
    "/app": "/repo/components/c",
    "/app/libs/shared": "/repo/libs/shared",
    "/data/input/grid.txt": "/in/g.txt",
    "/data/output": "/stage",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/app/probe.py", "/repo/components/c/probe.py"),
        ("/app/libs/shared/x.py", "/repo/libs/shared/x.py"),  # the longest prefix wins
        ("/app/libs/other", "/repo/components/c/libs/other"),
        ("/data/output", "/stage"),
        ("/data/output/sub/extra.csv", "/stage/sub/extra.csv"),
        ("--out=/data/output/a.nc", "--out=/stage/a.nc"),
        ("a:/app/x,/data/output/y;/data/input/grid.txt", "a:/repo/components/c/x,/stage/y;/in/g.txt"),
        ("/data/outputs/x", "/data/outputs/x"),  # not a path component boundary
        ("/data/input/grid.txt.bak", "/data/input/grid.txt.bak"),
        ("/srv/app/x", "/srv/app/x"),  # not at the start of a path
        ("./app/x", "./app/x"),
        ("apps", "apps"),
        ("2024-07-15", "2024-07-15"),
    ],
)
def test_rewrite(text: str, expected: str) -> None:
    assert rewrite(text, MAPPING) == expected


def test_rewrite_without_mapping_is_identity() -> None:
    assert rewrite("/app/x", {}) == "/app/x"


@pytest.fixture
def plan(component: Component, grid: Path, tmp_path: Path) -> RunPlan:
    stations = tmp_path / "stations"
    stations.mkdir()
    (stations / "s1.csv").write_text("x\n")
    return make_plan(
        component,
        parameters={"date": "2024-07-15", "size": "3", "verbose": "true"},
        inputs={"grid": grid, "stations": stations},
        output_dir=tmp_path / "out",
    )


def test_path_map(plan: RunPlan, repo_root: Path, grid: Path, tmp_path: Path) -> None:
    assert path_map(plan, tmp_path / "stage", repo_root) == {
        "/app": str(repo_root / "components" / "probe"),
        "/app/libs/shared": str(repo_root / "libs" / "shared"),
        "/app/libs": str(repo_root / "libs"),  # where a PYTHONPATH-style setting points
        "/data/input/grid.txt": str(grid.resolve()),
        "/data/input/stations": str((tmp_path / "stations").resolve()),
        "/data/output": str(tmp_path / "stage"),
    }


def test_native_argv_and_environment(plan: RunPlan, repo_root: Path, grid: Path, tmp_path: Path) -> None:
    executor = NativeExecutor(repo_root)
    stage = tmp_path / "stage"
    argv = executor.argv(plan, stage)
    assert argv[0] == sys.executable  # python3 becomes the interpreter r2o runs under
    assert argv[1] == str(repo_root / "components" / "probe" / "probe.py")
    assert argv[argv.index("--grid") + 1] == str(grid.resolve())
    assert argv[argv.index("--out") + 1] == str(stage / "result.txt")
    assert argv[-1] == f"--lib={repo_root / 'libs' / 'shared'}"
    assert argv[argv.index("--date") + 1] == "2024-07-15"
    env = executor.environment(plan, stage)
    assert env["PROBE_LIB"] == str(repo_root / "libs" / "shared")
    assert env["PROBE_OUT"] == str(stage / "sub")
    assert env["PROBE_PLAIN"] == "/data/outputs-are-elsewhere"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_a_native_run_promotes_every_output(plan: RunPlan, repo_root: Path, tmp_path: Path) -> None:
    echoed: list[tuple[str, bytes]] = []
    result = run(plan, NativeExecutor(repo_root), echo=lambda stream, chunk: echoed.append((stream, chunk)))
    out = tmp_path / "out"
    assert result.output_dir == out.resolve()
    assert result.backend == "native"
    assert (out / "result.txt").read_text() == "2024-07-15 3 fast 0.5 true GRID-42 ['s1.csv']\n"
    assert (out / "sub" / "extra.csv").read_text() == "k,v\nlib,shared-lib\n"
    stdout = (out / "stdout.txt").read_text()
    assert stdout == "probe ran in True lib True\nplain /data/outputs-are-elsewhere\n"
    assert b"".join(c for s, c in echoed if s == "stdout").decode() == stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out", "repo", "stations"]


def test_a_missing_program_is_a_clear_error(plan: RunPlan, repo_root: Path, tmp_path: Path) -> None:
    bad = make_plan(
        plan.component,
        parameters={"date": "2024-07-15"},
        inputs={"grid": tmp_path / "inputs/grid.txt"},
        output_dir=tmp_path / "out",
    )
    object.__setattr__(bad, "argv", ("no-such-program-r2o", "x"))
    with pytest.raises(RunError, match="cannot start no-such-program-r2o for probe natively"):
        run(bad, NativeExecutor(repo_root))
    assert not (tmp_path / "out").exists()


def test_native_timeout(plan: RunPlan, repo_root: Path, tmp_path: Path) -> None:
    sleeper = repo_root / "components" / "probe" / "probe.py"
    sleeper.write_text("import sys, time\nprint('napping', file=sys.stderr, flush=True)\ntime.sleep(60)\n")
    short = make_plan(
        plan.component,
        parameters={"date": "2024-07-15"},
        inputs={"grid": tmp_path / "inputs/grid.txt"},
        output_dir=tmp_path / "out",
        timeout_s=1,
    )
    with pytest.raises(RunTimeoutError) as info:
        run(short, NativeExecutor(repo_root))
    assert "ran past its timeout of 1 s (native)" in str(info.value)
    assert "| napping" in str(info.value)
    assert info.value.exit_code == 9
    assert not (tmp_path / "out").exists()


def test_a_timeout_stops_the_children_too(plan: RunPlan, repo_root: Path, tmp_path: Path) -> None:
    # The child inherits stdout: if only the parent were killed, r2o would wait for the child's pipe.
    script = repo_root / "components" / "probe" / "probe.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print('spawned', flush=True)\n"
        "time.sleep(120)\n"
    )
    short = make_plan(
        plan.component,
        parameters={"date": "2024-07-15"},
        inputs={"grid": tmp_path / "inputs/grid.txt"},
        output_dir=tmp_path / "out",
        timeout_s=2,
    )
    start = time.monotonic()
    with pytest.raises(RunTimeoutError, match="spawned"):
        run(short, NativeExecutor(repo_root))
    assert time.monotonic() - start < 30
