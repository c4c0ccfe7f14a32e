"""End to end: the rendered buildspec, run locally as CodeBuild would, rebuilds exactly what a commit changed.

A fixture monorepo in tmp_path (git history made here, nothing cloned): the real debian and
python-sci base images, the real identity-matrix, and a tiny second component. Base-image tags
equal this repository's, so the local engine's already-built images are reused, not rebuilt.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from r2o.images.engine import Engine
from tests.changes.conftest import commit, write
from tests.ci.conftest import LocalRegistry
from tests.conftest import REPO_ROOT, make_git_repo
from tests.test_cli import R2O

HELLO_YAML = """\
apiVersion: r2o/v1
name: hello-text
version: 1.0.0
description: Greets someone (the second, tiny component of the fixture monorepo).
owners: [tests]
base: python-sci
build: {dockerfile: Dockerfile, include: []}
command: ["python3", "/app/hello.py", "Ref::name"]
parameters:
  name: {type: string, default: world, description: who to greet}
resources: {vcpus: 1, memory_mib: 512, gpus: 0, timeout_s: 600, retries: 1, platforms: [EC2]}
outputs:
  - {name: greeting, path: stdout, format: text, description: the greeting}
network: false
"""

HELLO_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY --chown=0:0 hello.py /app/
USER 1000
ENTRYPOINT []
"""


def fixture_monorepo(root: Path) -> Path:
    for name in ("debian", "python-sci"):
        shutil.copytree(
            REPO_ROOT / "base-images" / name,
            root / "base-images" / name,
            ignore=shutil.ignore_patterns("rootfs.tar", ".rootfs.tar.*"),
        )
    shutil.copytree(
        REPO_ROOT / "components" / "identity-matrix",
        root / "components" / "identity-matrix",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy2(REPO_ROOT / "ci" / "engine.sh", write(root / "ci" / "engine.sh", ""))
    hello = root / "components" / "hello-text"
    write(hello / "component.yaml", HELLO_YAML)
    write(hello / "Dockerfile", HELLO_DOCKERFILE)
    write(hello / "hello.py", "import sys\nprint(f'hello {sys.argv[1]}')\n")
    case = hello / "tests" / "golden" / "default"
    write(
        case / "case.yaml",
        "description: The default greeting.\nparameters: {name: world}\n"
        "compare:\n  greeting: {mode: exact}\n",
    )
    write(case / "expected" / "stdout.txt", "hello world\n")
    return root


def r2o_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*R2O, *args], cwd=root, capture_output=True, text=True, timeout=1800)


def build_lines(stdout: str, identifier: str) -> list[str]:
    """What one build printed: ``[identifier] line`` (the planner's own build is ``build``)."""
    pattern = re.compile(rf"^\[{identifier}\s*\] (.*)$")
    return [m.group(1) for line in stdout.splitlines() if (m := pattern.match(line))]


def planned_lines(stdout: str) -> dict[str, list[str]]:
    """Image name -> what the planned build carrying it printed about it.

    The second stage's lines are ``[build] [b01_...] ...`` in the planner's output; each image's
    share starts at its ``== name (i of n) ==`` header."""
    pattern = re.compile(r"^\[(b\d+_\w+)\] (.*)$")
    current: dict[str, str] = {}
    out: dict[str, list[str]] = {}
    for line in build_lines(stdout, "build"):
        m = pattern.match(line)
        if m is None:
            continue
        build, text = m.groups()
        header = re.match(r"^== ([a-z0-9-]+) \(\d+ of \d+\) ==$", text)
        if header:
            current[build] = header.group(1)
            out.setdefault(header.group(1), [])
        elif build in current:
            out[current[build]].append(text)
    return out


def plan_json(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".r2o" / "plan.json").read_text())
    return data


def remove_test_images(engine: Engine, registry: LocalRegistry) -> None:
    """hello-text's images (so the test builds them every time) and every tag naming the test registry."""
    for image in engine.client.images.list():
        for ref in image.tags:
            if ref.startswith(("hello-text:", f"{registry.address}/")):
                engine.remove(ref)


def run_buildspec(root: Path, registry: LocalRegistry) -> subprocess.CompletedProcess[str]:
    return r2o_run(root, "ci", "run-buildspec", "--registry", registry.address, "--base", "HEAD~1")


@pytest.fixture
def clean_engine(engine: Engine, ci_registry: LocalRegistry) -> Iterator[Engine]:
    remove_test_images(engine, ci_registry)
    yield engine
    remove_test_images(engine, ci_registry)


@pytest.mark.docker
def test_a_commit_builds_exactly_the_image_it_changed(
    tmp_path: Path, clean_engine: Engine, ci_registry: LocalRegistry
) -> None:
    """Both stages run here: the planner build (buildspec.yml), then the batch it starts."""
    root = fixture_monorepo(tmp_path / "mono")
    rendered = r2o_run(root, "render", "codebuild")
    assert rendered.returncode == 0, rendered.stderr
    make_git_repo(root)
    images = ["debian", "python-sci", "hello-text", "identity-matrix"]

    # First run: an empty registry, so every image is planned and pushed (built ones are reused locally).
    first = run_buildspec(root, ci_registry)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    planner = build_lines(first.stdout, "build")
    assert "4 of 4 images to build" in "\n".join(planner), planner[:20]
    plan = plan_json(root)
    assert sorted(i for b in plan["builds"] for i in b["images"]) == sorted(images)
    assert plan["skipped"] == 0
    shares = planned_lines(first.stdout)
    assert sorted(shares) == sorted(images)
    for name in images:
        assert any(line.startswith("pushed 127.0.0.1:") for line in shares[name]), (name, shares[name])
    assert any(line.startswith("build hello-text:1.0.0-") for line in shares["hello-text"])
    assert ci_registry.repositories() == ["debian", "hello-text", "identity-matrix", "python-sci"]
    assert "golden case" in "\n".join(shares["hello-text"])
    assert (root / ".r2o" / "reports" / "hello-text.xml").is_file()
    first_tags = ci_registry.tags("hello-text")

    # Nothing changed: the planner finds every tag and starts no batch (the commit's only build).
    again = run_buildspec(root, ci_registry)
    assert again.returncode == 0, again.stdout[-6000:] + again.stderr[-3000:]
    assert "nothing to build: all 4 images are in the registry" in "\n".join(
        build_lines(again.stdout, "build")
    )
    assert "no batch build started" in again.stdout
    assert planned_lines(again.stdout) == {}
    assert plan_json(root)["builds"] == [] and plan_json(root)["skipped"] == 4

    # Commit a change to one component: one planned build, building, testing and pushing that image only.
    write(root / "components" / "hello-text" / "hello.py", "import sys\nprint('hello', sys.argv[1])\n")
    commit(root, "hello-text: print with print's own separator")
    second = run_buildspec(root, ci_registry)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
    plan = plan_json(root)
    assert [b["images"] for b in plan["builds"]] == [["hello-text"]] and plan["skipped"] == 3
    shares = planned_lines(second.stdout)
    assert list(shares) == ["hello-text"]
    hello = shares["hello-text"]
    assert any(line.startswith("changed since HEAD~1: hello-text's own files") for line in hello), hello
    assert any(line.startswith("build hello-text:1.0.0-") for line in hello), hello
    assert "PASS  hello-text/default" in "\n".join(hello)
    assert any(line.startswith("pushed 127.0.0.1:") for line in hello), hello
    assert "batch succeeded: 1 of 1 builds succeeded" in second.stdout
    assert len(ci_registry.tags("hello-text")) == len(first_tags) + 1
    assert len(ci_registry.tags("identity-matrix")) == 1

    # A change that breaks the golden case: the planned build fails, nothing is pushed, the commit fails.
    write(root / "components" / "hello-text" / "hello.py", "import sys\nprint('goodbye', sys.argv[1])\n")
    commit(root, "hello-text: a regression")
    third = run_buildspec(root, ci_registry)
    assert third.returncode == 1, third.stdout[-6000:]
    hello_text = "\n".join(planned_lines(third.stdout)["hello-text"])
    assert "FAIL  hello-text/default" in hello_text and "is NOT pushed" in hello_text
    assert "batch FAILED: 0 of 1 builds succeeded" in third.stdout
    assert re.search(r"^failed\s+build\b", third.stderr, re.MULTILINE), third.stderr
    assert len(ci_registry.tags("hello-text")) == len(first_tags) + 1
    assert 'failures="1"' in (root / ".r2o" / "reports" / "hello-text.xml").read_text()
