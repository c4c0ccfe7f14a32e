"""Shared fixtures. The unit tier cannot reach Docker; the Docker tier fails loudly without it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# No per-example deadline: a first example that pays for a lazy import on a loaded CI machine is not a
# failure (speed is measured by benchmarks/, never asserted by tests)
settings.register_profile("r2o", deadline=None)
settings.load_profile("r2o")

#: Fixtures that start a local service: a test using one belongs to the integration tier.
SERVICE_FIXTURES = frozenset({"moto_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts a service `integration`: `make unit` leaves them to `make test`."""
    for item in items:
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _docker_protection(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests not marked `docker` must not talk to an engine (like cibuildwheel's mock_protection)."""
    if request.node.get_closest_marker("docker") is not None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit-tier test tried to reach Docker; mark it @pytest.mark.docker")

    monkeypatch.setattr(docker, "from_env", refuse)
    monkeypatch.setattr(docker, "DockerClient", refuse)


@pytest.fixture(scope="session")
def engine() -> object:
    """A connected engine; the Docker tier fails (never skips) when none answers."""
    from r2o.errors import EngineError
    from r2o.images.engine import Engine

    try:
        return Engine.connect()
    except EngineError as exc:
        pytest.fail(f"the Docker tier needs an engine and none answers: {exc}\nrun: bash ci/engine.sh")


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return proc.stdout


def make_git_repo(path: Path) -> Path:
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "user.name", "r2o tests")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "fixture")
    return path


@pytest.fixture
def repo_copy(tmp_path: Path) -> Iterator[Path]:
    """A git repository holding a copy of this repository's identity-matrix and base images."""
    root = tmp_path / "repo"
    (root / "components").mkdir(parents=True)
    shutil.copytree(
        REPO_ROOT / "components" / "identity-matrix",
        root / "components" / "identity-matrix",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(
        REPO_ROOT / "base-images",
        root / "base-images",
        ignore=shutil.ignore_patterns("rootfs.tar", "__pycache__"),
    )
    make_git_repo(root)
    yield root
