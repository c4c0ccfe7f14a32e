"""The Docker tier's shared pieces: the r2o CLI as a subprocess, repository copies, a local registry.

Every repository copy holds the same base-image files as this repository, so their content tags are
the same and the base images are built once per engine; a test that needs a fresh image changes only
its component (a salt), so only that component's tag is new.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from r2o.images.engine import Engine
from tests.conftest import REPO_ROOT, make_git_repo
from tests.services import local_registry

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
HOSTILE = REPO_ROOT / "tests" / "fixtures" / "hostile"
EXPECTED_SIZE_4 = REPO_ROOT / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"


def r2o(
    *args: str,
    cwd: Path,
    timeout: float = 900,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*R2O, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc


def failed(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The stderr of a run that failed cleanly with ``code``, holding every needle."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)
    return proc.stderr


def images_json(cwd: Path, *args: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(ok(r2o("images", "--json", *args, cwd=cwd)).stdout)
    return {row["name"]: row for row in rows}


def make_repo(root: Path, *, hostile: bool = False) -> Path:
    """What tests.conftest.repo_copy makes, at ``root``, optionally with the hostile component."""
    (root / "components").mkdir(parents=True)
    ignore = shutil.ignore_patterns("rootfs.tar", "__pycache__")
    shutil.copytree(
        REPO_ROOT / "components" / "identity-matrix", root / "components" / "identity-matrix", ignore=ignore
    )
    shutil.copytree(REPO_ROOT / "base-images", root / "base-images", ignore=ignore)
    if hostile:
        shutil.copytree(HOSTILE, root / "components" / "hostile", ignore=ignore)
    return make_git_repo(root)


def salt(repo: Path, name: str = "identity-matrix", file: str = "algorithm.py") -> str:
    """Make image ``name``'s content (so its tag) unique by appending a comment to ``file``; return the tag.

    In a component's algorithm.py the comment also makes a new layer; in a Dockerfile, only a new tag
    (and image id, through the content-tag label) while every layer comes from the build cache.
    """
    folder = repo / "components" / name
    path = (folder if folder.is_dir() else repo / "base-images" / name) / file
    path.write_text(path.read_text() + f"# salt {uuid.uuid4().hex}\n")
    return str(images_json(repo, "--offline")[name]["tag"])


@pytest.fixture
def scratch_images(engine: Engine) -> Iterator[list[str]]:
    """Image references a test made only for itself; removed afterwards."""
    refs: list[str] = []
    yield refs
    for ref in refs:
        engine.remove(ref)


# --- a local OCI registry: Debian's docker-registry, as a plain process on a loopback port ---------


@dataclass(frozen=True)
class Registry:
    address: str  # 127.0.0.1:PORT
    storage: Path

    def catalog(self) -> list[str]:
        with urllib.request.urlopen(f"http://{self.address}/v2/_catalog", timeout=10) as response:
            return list(json.load(response)["repositories"])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry on 127.0.0.1 (the engine treats loopback registries as plain HTTP), empty when a
    test module starts and shared by its tests, so base images are pushed once per module."""
    with local_registry(tmp_path_factory.mktemp("registry")) as (address, storage):
        yield Registry(address, storage)
