"""Golden cases in the built images (the Docker tier)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.test_golden_native import add_fixture, assert_every_repository_case_passes
from tests.test_cli import r2o_process as r2o  # Docker builds and runs: a real process

pytestmark = pytest.mark.docker


def test_identity_matrix_passes_in_docker(engine: object, repo_copy: Path) -> None:
    proc = r2o("test", "identity-matrix", "--repeat", "2", cwd=repo_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  identity-matrix/default-size" in proc.stdout
    assert "PASS  identity-matrix/size-4" in proc.stdout


def test_nondeterminism_is_caught_in_docker(engine: object, repo_copy: Path) -> None:
    add_fixture(repo_copy, "nondeterministic")
    proc = r2o("test", "nondeterministic", "--repeat", "2", cwd=repo_copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not deterministic: noise differ between 2 runs" in proc.stdout


def test_every_component_of_the_repository_passes_its_golden_cases_in_its_image(engine: object) -> None:
    """What CodeBuild checks per changed component, for all of them: the science runs in its image
    (PYTHONPATH, included libs, entrypoint), reproduces every recorded case, and twice the same."""
    assert_every_repository_case_passes("--repeat", "2")
