"""A small monorepo with git history, written into tmp_path (nothing is cloned from anywhere).

base-images/root   rootfs image
base-images/mid    parent: root
base-images/side   parent: root
components/alpha   base: mid, includes libs/shared
components/beta    base: mid
components/gamma   base: side, stage image mid (build.images)
libs/shared, libs/unused, pipelines/aqcast.yaml, tools/r2o/x.py, README.md
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git, make_git_repo

IMAGE_YAML = """\
apiVersion: r2o/v1
kind: BaseImage
name: {name}
version: 1.0.0
description: A test base image.
{extra}
"""

COMPONENT_YAML = """\
apiVersion: r2o/v1
name: {name}
version: 1.0.0
description: A test component.
owners: [tests]
base: {base}
build: {{dockerfile: Dockerfile, include: [{include}]{images}}}
command: ["python3", "/app/algorithm.py"]
resources: {{vcpus: 1, memory_mib: 512, timeout_s: 600, retries: 1, platforms: [EC2]}}
outputs:
  - {{name: log, path: stdout, format: text}}
network: false
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_component(root: Path, name: str, base: str, include: str = "", images: str = "") -> None:
    folder = root / "components" / name
    write(
        folder / "component.yaml", COMPONENT_YAML.format(name=name, base=base, include=include, images=images)
    )
    write(
        folder / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY algorithm.py /app/\nENTRYPOINT []\n"
    )
    write(folder / "algorithm.py", f"print('{name}')\n")
    write(folder / "README.md", f"# {name}\n")


def write_monorepo(root: Path) -> Path:
    base = root / "base-images"
    write(base / "root" / "image.yaml", IMAGE_YAML.format(name="root", extra="rootfs: {suite: bookworm}"))
    write(base / "root" / "Dockerfile", "FROM scratch\nADD rootfs.tar /\n")
    for name in ("mid", "side"):
        write(base / name / "image.yaml", IMAGE_YAML.format(name=name, extra="parent: root"))
        write(base / name / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    write(root / "libs" / "shared" / "shared.py", "X = 1\n")
    write(root / "libs" / "unused" / "unused.py", "Y = 1\n")
    write_component(root, "alpha", "mid", include="libs/shared")
    write_component(root, "beta", "mid")
    write_component(root, "gamma", "side", images=", images: {BUILD_IMAGE: mid}")
    write(root / "pipelines" / "aqcast.yaml", "name: aqcast\n")
    write(root / "tools" / "r2o" / "x.py", "pass\n")
    write(root / "README.md", "# monorepo\n")
    return root


def commit(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    root = write_monorepo(tmp_path / "mono")
    make_git_repo(root)
    return root


@pytest.fixture
def shallow_clone(monorepo: Path, tmp_path: Path) -> Callable[[int], Path]:
    """A shallow clone of ``monorepo`` (a local path in tmp_path, never a remote) at a given depth."""

    def clone(depth: int) -> Path:
        dest = tmp_path / f"shallow{depth}"
        if dest.exists():
            shutil.rmtree(dest)
        subprocess.run(
            ["git", "clone", "-q", f"--depth={depth}", f"file://{monorepo}", str(dest)],
            check=True,
            capture_output=True,
        )
        return dest

    return clone
