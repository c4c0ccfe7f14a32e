"""Golden cases in the built images (the Docker tier)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from r2o.golden.cases import cases_of
from r2o.repo import Repository
from tests.conftest import REPO_ROOT
from tests.golden.test_golden_native import add_fixture
from tests.test_cli import R2O, r2o

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
    (PYTHONPATH, included libs, entrypoint) and reproduces every recorded case."""
    # on a fresh machine this builds every component image first (aq-compliance installs matplotlib)
    proc = subprocess.run(
        [*R2O, "test", "--json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads(proc.stdout)
    assert all(r["status"] == "pass" for r in results), [r for r in results if r["status"] != "pass"]
    repo = Repository(REPO_ROOT)
    expected = {
        (name, case.name) for name, component in repo.components.items() for case in cases_of(component)
    }
    assert {(r["component"], r["case"]) for r in results} == expected
    assert {name for name, _ in expected} == set(repo.components)  # every component has a case
