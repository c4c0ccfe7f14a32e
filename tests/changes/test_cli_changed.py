"""`r2o changed`, `r2o build --changed` and `r2o test --changed` through the real entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.changes.conftest import commit, write
from tests.test_cli import assert_clean_error, r2o


def test_changed_text(monorepo: Path) -> None:
    write(monorepo / "libs" / "shared" / "shared.py", "X = 3\n")
    write(monorepo / "components" / "beta" / "algorithm.py", "print(3)\n")
    commit(monorepo)
    proc = r2o("changed", cwd=monorepo)
    assert proc.returncode == 0, proc.stderr
    assert "components changed: beta" in proc.stdout
    assert "component affected: alpha (includes libs/shared)" in proc.stdout
    assert "libs changed: shared" in proc.stdout
    assert "2 files" in proc.stdout


def test_changed_json(monorepo: Path) -> None:
    shutil.rmtree(monorepo / "components" / "gamma")
    write(monorepo / "base-images" / "mid" / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN true\n")
    commit(monorepo)
    proc = r2o("changed", "--json", "--base", "HEAD~1", cwd=monorepo)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["components_deleted"] == ["gamma"]
    assert data["base_images_changed"] == ["mid"]
    assert data["components"] == ["alpha", "beta"]
    assert data["history_missing"] is None


def test_changed_base_from_environment(monorepo: Path) -> None:
    write(monorepo / "components" / "alpha" / "algorithm.py", "print(9)\n")
    commit(monorepo)
    env = {**os.environ, "R2O_BASE": "HEAD"}
    proc = subprocess.run(
        [sys.executable, "-c", "from r2o.cli.main import main; main()", "changed", "--json"],
        cwd=monorepo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(proc.stdout)["components"] == []  # base HEAD: nothing between HEAD and HEAD


def test_changed_history_missing_warns(monorepo: Path, shallow_clone: Callable[[int], Path]) -> None:
    write(monorepo / "README.md", "x\n")
    commit(monorepo)
    proc = r2o("changed", cwd=shallow_clone(1))
    assert proc.returncode == 0, proc.stderr
    assert "warning: history is missing" in proc.stderr and "shallow clone" in proc.stderr
    assert "treating every component and base image as changed" in proc.stderr
    assert "components changed: alpha, beta, gamma" in proc.stdout


def test_changed_broken_folder(monorepo: Path) -> None:
    (monorepo / "components" / "broken").mkdir()
    assert_clean_error(r2o("changed", cwd=monorepo), 3, "components/broken", "has no component.yaml")


def test_changed_outside_git(tmp_path: Path) -> None:
    from tests.changes.conftest import write_monorepo

    root = write_monorepo(tmp_path / "plain")
    assert_clean_error(r2o("changed", cwd=root), 11, "not a git checkout")


def test_changed_unknown_head(monorepo: Path) -> None:
    assert_clean_error(r2o("changed", "--head", "nope", cwd=monorepo), 11, "unknown head revision 'nope'")


def test_build_changed_with_nothing_to_build(monorepo: Path) -> None:
    write(monorepo / "README.md", "docs only\n")
    commit(monorepo)
    proc = r2o("build", "--changed", cwd=monorepo)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to build" in proc.stderr


def test_build_changed_argument_errors(monorepo: Path) -> None:
    assert_clean_error(r2o("build", "--changed", "alpha", cwd=monorepo), 2, "only one of them")
    assert_clean_error(
        r2o("build", "--base", "HEAD", "alpha", cwd=monorepo), 2, "--base only applies with --changed"
    )
    assert_clean_error(r2o("test", "--changed", "alpha", cwd=monorepo), 2, "not both")
    assert_clean_error(r2o("test", "--base", "HEAD", cwd=monorepo), 2, "--base only applies with --changed")


def test_test_changed_with_nothing_changed(monorepo: Path, tmp_path: Path) -> None:
    write(monorepo / "pipelines" / "aqcast.yaml", "name: aqcast\n# more\n")
    commit(monorepo)
    report = tmp_path / "junit.xml"
    proc = r2o("test", "--changed", "--junit", str(report), cwd=monorepo)
    assert proc.returncode == 0, proc.stderr
    assert "pipelines changed: aqcast" in proc.stderr and "nothing to test" in proc.stderr
    assert 'tests="0"' in report.read_text()


def test_test_changed_runs_only_the_changed_component(repo_copy: Path) -> None:
    """A second component exists, but only identity-matrix changed: only its cases run (natively)."""
    other = repo_copy / "components" / "other-matrix"
    shutil.copytree(repo_copy / "components" / "identity-matrix", other)
    manifest = other / "component.yaml"
    manifest.write_text(manifest.read_text().replace("name: identity-matrix", "name: other-matrix"))
    commit(repo_copy, "second component")
    write(repo_copy / "components" / "identity-matrix" / "NOTES.md", "notes\n")
    commit(repo_copy)
    proc = r2o("test", "--changed", "--native", "--json", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    verdicts = json.loads(proc.stdout)
    assert {v["component"] for v in verdicts} == {"identity-matrix"}
    assert all(v["status"] == "pass" for v in verdicts) and len(verdicts) >= 2
    assert "components changed: identity-matrix" in proc.stderr


@pytest.mark.docker
def test_build_changed_plans_only_the_changed_image(repo_copy: Path, engine: object) -> None:
    write(repo_copy / "components" / "identity-matrix" / "NOTES.md", "a note changes the content tag\n")
    commit(repo_copy)
    proc = r2o("build", "--changed", "--dry-run", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    assert "components changed: identity-matrix" in proc.stderr
    planned = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("build")]
    assert [ref.split(":")[0] for ref in planned] == ["identity-matrix"], proc.stdout
