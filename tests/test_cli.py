"""The CLI through its real entry point: exit codes, messages, and never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.conftest import REPO_ROOT

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]


def r2o(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """In this process (tests/cli_runner.py); the entry point itself is tested by r2o_process."""
    return run_cli(*args, cwd=cwd)


def r2o_process(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*R2O, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def test_list_json(repo_copy: Path) -> None:
    proc = r2o("list", "--json", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == ["identity-matrix"]
    assert rows[0]["memory_mib"] == 512


def test_list_table_from_a_subfolder(repo_copy: Path) -> None:
    proc = r2o("list", cwd=repo_copy / "components" / "identity-matrix" / "tests")
    assert proc.returncode == 0, proc.stderr
    assert "identity-matrix" in proc.stdout


def test_validate_ok(repo_copy: Path) -> None:
    proc = r2o("validate", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"ok: 1 component and \d+ base images are valid", proc.stdout), proc.stdout


def test_validate_reports_every_problem(repo_copy: Path) -> None:
    (repo_copy / "components" / "broken").mkdir()
    (repo_copy / "components" / "broken" / "component.yml").write_text("name: broken\n")
    manifest = repo_copy / "components" / "identity-matrix" / "component.yaml"
    manifest.write_text(manifest.read_text().replace("memory_mib: 512", "memory_mb: 512"))
    line = 1 + manifest.read_text().splitlines().index(
        next(ln for ln in manifest.read_text().splitlines() if "memory_mb" in ln)
    )
    proc = r2o("validate", cwd=repo_copy)
    # the unknown key, the required key it should have been, and the folder without component.yaml
    assert_clean_error(
        proc,
        3,
        "3 problems found",
        "rename component.yml to component.yaml",
        "did you mean 'memory_mib'?",
        f"component.yaml:{line}: resources.memory_mb",
    )


def test_validate_a_path_or_a_name_and_refuse_what_does_not_exist(repo_copy: Path) -> None:
    (repo_copy / "components" / "empty").mkdir()  # a problem outside the folders asked about
    for target in ("components/identity-matrix", "identity-matrix", "base-images/debian", "debian"):
        proc = r2o("validate", target, cwd=repo_copy)
        assert proc.returncode == 0, (target, proc.stderr)
        assert "ok:" in proc.stdout
    proc = r2o("validate", "identity-matrx", cwd=repo_copy)
    assert_clean_error(
        proc, 4, "identity-matrx: no such path, component, base image or pipeline", "identity-matrix"
    )
    assert proc.stdout == ""  # never "ok" for something that was not checked
    proc = r2o("validate", "empty", cwd=repo_copy)
    assert_clean_error(proc, 3, "components/empty")


def test_validate_json(repo_copy: Path) -> None:
    (repo_copy / "components" / "empty").mkdir()
    proc = r2o("validate", "--json", cwd=repo_copy)
    assert proc.returncode == 3
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert report["problems"][0]["file"] == "components/empty"


def test_show_resolves_defaults(repo_copy: Path) -> None:
    proc = r2o("show", "identity-matrix", "--json", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["parameters"]["size"]["default"] == 2
    assert data["network"] is False
    assert data["resources"]["platforms"] == ["EC2"]


def test_show_unknown_component_suggests(repo_copy: Path) -> None:
    assert_clean_error(r2o("show", "identity-matrx", cwd=repo_copy), 4, "did you mean 'identity-matrix'?")


def test_outside_a_repository(tmp_path: Path) -> None:
    assert_clean_error(r2o("list", cwd=tmp_path), 2, "no r2o repository", "--repo")


def test_repo_option(repo_copy: Path, tmp_path: Path) -> None:
    proc = r2o("--repo", str(repo_copy), "list", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_unknown_command_is_a_usage_error() -> None:
    proc = r2o_process("frobnicate")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = r2o_process("--debug", "list", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["-p", "size=x"], 2, "'x' is not an integer"),
        (["-p", "size=0"], 2, "below the minimum 1"),
        (["-p", "sise=3"], 2, "did you mean 'size'?"),
        (["-p", "size"], 2, "not of the form NAME=VALUE"),
        (["--input", "grid=/nonexistent"], 2, "no input of identity-matrix named 'grid'"),
        (["--timeout", "0"], 2, "--timeout must be at least 1"),
    ],
)
def test_run_bad_arguments(repo_copy: Path, args: list[str], code: int, needle: str) -> None:
    assert_clean_error(r2o("run", "identity-matrix", "--native", *args, cwd=repo_copy), code, needle)


def test_run_native_prints_the_matrix(repo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # a subprocess: the run pumps the child's output to the real stdout/stderr byte streams
    proc = r2o_process(
        "run", "identity-matrix", "--native", "-p", "size=4", "--output", str(out), cwd=repo_copy
    )
    assert proc.returncode == 0, proc.stderr
    expected = (REPO_ROOT / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt").read_text()
    assert proc.stdout == expected
    assert (out / "stdout.txt").read_text() == expected


def test_run_native_failure_leaves_no_output(repo_copy: Path, tmp_path: Path) -> None:
    algorithm = repo_copy / "components" / "identity-matrix" / "algorithm.py"
    algorithm.write_text(
        "import sys\nprint('partial')\nsys.stderr.write('boom: bad input\\n')\nsys.exit(3)\n"
    )
    out = tmp_path / "out"
    proc = r2o_process("run", "identity-matrix", "--native", "--output", str(out), cwd=repo_copy)
    assert_clean_error(proc, 7, "exited with code 3", "boom: bad input")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [repo_copy.parent / "repo"] or not any(
        p.name.startswith(".out") for p in tmp_path.iterdir()
    )


def test_run_native_timeout(repo_copy: Path, tmp_path: Path) -> None:
    algorithm = repo_copy / "components" / "identity-matrix" / "algorithm.py"
    algorithm.write_text("import time\nprint('starting', flush=True)\ntime.sleep(30)\n")
    proc = r2o_process(
        "run", "identity-matrix", "--native", "--timeout", "1", "--output", str(tmp_path / "o"), cwd=repo_copy
    )
    assert_clean_error(proc, 9, "ran past its timeout of 1 s", "starting")
