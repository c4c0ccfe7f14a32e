"""Every test file git tracks is collected: none hidden by ``norecursedirs``, a name or an import error.

pyproject's ``norecursedirs`` once held ``golden``, which also hid ``tests/golden/`` (the repository-wide
``r2o test`` runs) from every tier. Golden *case* folders (``components/<name>/tests/golden/<case>/``) hold
data — inputs and expected outputs — and must never be collected, whatever files they hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from tests.conftest import REPO_ROOT


def _is_golden_case_data(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return len(parts) > 4 and parts[0] == "components" and parts[2:4] == ("tests", "golden")


def _tracked_test_files() -> set[str]:
    proc = subprocess.run(
        ["git", "ls-files", "-z", "*test_*.py"], cwd=REPO_ROOT, capture_output=True, check=True
    )
    names = [n for n in proc.stdout.decode().split("\0") if n]
    return {n for n in names if PurePosixPath(n).name.startswith("test_")}


def _collected_test_files() -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {line.split("::", 1)[0] for line in proc.stdout.splitlines() if "::" in line}


@pytest.mark.slow  # a whole-suite collection in a subprocess (~10 s of imports)
def test_every_tracked_test_file_is_collected() -> None:
    tracked = _tracked_test_files()
    collected = _collected_test_files()
    assert "tests/golden/test_golden_native.py" in collected
    assert "tests/golden/test_golden_docker.py" in collected
    missing = sorted(f for f in tracked - collected if not _is_golden_case_data(f))
    assert not missing, f"tracked test files pytest never collects: {missing}"
    wrongly = sorted(f for f in collected if _is_golden_case_data(f))
    assert not wrongly, f"golden case data collected as tests: {wrongly}"


def test_golden_case_folders_are_data_and_tests_golden_is_tests() -> None:
    assert _is_golden_case_data("components/wrf/tests/golden/one-day/inputs/test_x.py")
    assert not _is_golden_case_data("components/wrf/tests/test_wrf_wrfout.py")
    assert not _is_golden_case_data("tests/golden/test_golden_native.py")


def test_a_test_file_in_a_golden_case_folder_is_not_collected(tmp_path: Path) -> None:
    """The norecursedirs pattern itself: a test_*.py dropped into a case folder is never run."""
    root = tmp_path
    (root / "pyproject.toml").write_text((REPO_ROOT / "pyproject.toml").read_text())
    case = root / "components" / "demo" / "tests" / "golden" / "one" / "inputs"
    case.mkdir(parents=True)
    (case / "test_data.py").write_text("def test_never() -> None:\n    raise AssertionError\n")
    real = root / "components" / "demo" / "tests" / "test_demo.py"
    real.write_text("def test_runs() -> None:\n    pass\n")
    golden = root / "tests" / "golden" / "test_repo_golden.py"
    golden.parent.mkdir(parents=True)
    golden.write_text("def test_runs_too() -> None:\n    pass\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(root),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        # the collection rules are pytest's own: third-party plugins (hypothesis, schemathesis, xdist)
        # would only add ~2 s of imports to this run
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    files = {line.split("::", 1)[0] for line in proc.stdout.splitlines() if "::" in line}
    assert files == {"components/demo/tests/test_demo.py", "tests/golden/test_repo_golden.py"}, proc.stdout
