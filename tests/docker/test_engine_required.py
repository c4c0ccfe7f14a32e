"""Without an engine, the Docker tier fails (never skips) and every command says how to start one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.docker.conftest import failed, r2o

pytestmark = pytest.mark.docker


def no_engine(where: Path) -> dict[str, str]:
    return {"DOCKER_HOST": f"unix://{where}/no-such-docker.sock"}


def test_commands_fail_loudly_without_an_engine(repo_copy: Path) -> None:
    for args in (["build", "identity-matrix"], ["images"], ["run", "identity-matrix"]):
        failed(
            r2o(*args, cwd=repo_copy, env=no_engine(repo_copy)), 5, "no Docker engine answers", "ci/engine.sh"
        )


def test_the_docker_tier_fails_rather_than_skips(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/docker/test_identity_matrix.py::test_push_needs_a_registry",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **no_engine(tmp_path)},
    )
    assert proc.returncode == 1, proc.stdout
    assert "the Docker tier needs an engine and none answers" in proc.stdout
    assert "1 error" in proc.stdout
    assert "skipped" not in proc.stdout
