"""A scratch repository holding the fixture pipeline (tests/fixtures/pipeline) and the real base images."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.aws.conftest import moto, moto_url  # noqa: F401  (the moto server fixtures, shared)
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "pipeline"
R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]


def make_repo(root: Path) -> Path:
    shutil.copytree(FIXTURE, root)
    shutil.copytree(
        REPO_ROOT / "base-images",
        root / "base-images",
        ignore=shutil.ignore_patterns("rootfs.tar", "__pycache__"),
    )
    return root


@pytest.fixture
def pipe_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def r2o(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*R2O, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def set_sleep(repo: Path, step: str, seconds: float) -> None:
    """Make ``step`` of the chain pipeline sleep (gen steps take sleep as a parameter)."""
    path = repo / "pipelines" / "chain.yaml"
    text = path.read_text()
    block_start = text.index(f"  {step}:\n")
    head, tail = text[:block_start], text[block_start:]
    tail = re.sub(r"sleep: [0-9.]+}", f"sleep: {seconds}}}", tail, count=1)
    path.write_text(head + tail)
