"""A small repository written into tmp_path for the image tests (no Docker, nothing cloned).

base-images/root   rootfs image (no parent)
base-images/mid    parent: root, packages [python3]
base-images/side   parent: root
components/alpha   base: mid, includes libs/shared
components/beta    base: mid
components/gamma   base: side
libs/shared        included by alpha only
"""

from __future__ import annotations

from pathlib import Path

from r2o.images.plan import ImageGraph
from r2o.repo import Repository

IMAGE_YAML = """\
apiVersion: r2o/v1
kind: BaseImage
name: {name}
version: {version}
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
build: {{dockerfile: Dockerfile, include: [{include}]}}
command: ["python3", "/app/algorithm.py", "Ref::size"]
parameters:
  size: {{type: integer, default: 2, minimum: 1, maximum: 10}}
resources: {{vcpus: 1, memory_mib: 512, timeout_s: 600, retries: 1, platforms: [EC2]}}
outputs:
  - {{name: log, path: stdout, format: text}}
network: false
"""

COMPONENT_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY --chown=0:0 algorithm.py /app/
ENTRYPOINT []
"""

ROOTS = ("root", "mid", "side")
COMPONENTS = {"alpha": ("mid", "libs/shared"), "beta": ("mid", ""), "gamma": ("side", "")}


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_sample_repo(root: Path) -> Path:
    """Write the tree above at ``root`` (not a git repository; see tests.conftest.make_git_repo)."""
    base = root / "base-images"
    write_file(
        base / "root" / "image.yaml",
        IMAGE_YAML.format(name="root", version="12.0.0", extra="rootfs: {suite: bookworm}"),
    )
    write_file(base / "root" / "Dockerfile", "FROM scratch\nADD rootfs.tar /\n")
    write_file(base / "root" / ".gitignore", "/rootfs.tar\n")
    write_file(
        base / "mid" / "image.yaml",
        IMAGE_YAML.format(name="mid", version="1.0.0", extra="parent: root\npackages: [python3]"),
    )
    write_file(base / "mid" / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PACKAGES\n")
    write_file(
        base / "side" / "image.yaml",
        IMAGE_YAML.format(name="side", version="2.1.0", extra="parent: root\nbuild_args: {FLAVOR: plain}"),
    )
    write_file(base / "side" / "Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG FLAVOR\n")
    for name, (parent, include) in COMPONENTS.items():
        folder = root / "components" / name
        write_file(folder / "component.yaml", COMPONENT_YAML.format(name=name, base=parent, include=include))
        write_file(folder / "Dockerfile", COMPONENT_DOCKERFILE)
        write_file(folder / "algorithm.py", f"print({name!r})\n")
    write_file(root / "libs" / "shared" / "__init__.py", "SHARED = 1\n")
    write_file(root / "libs" / "unused" / "__init__.py", "UNUSED = 1\n")
    return root


def tags_of(root: Path) -> dict[str, str]:
    """name -> content tag, computed from a fresh look at the tree."""
    return {name: node.tag for name, node in ImageGraph.from_repo(Repository(root)).nodes.items()}
