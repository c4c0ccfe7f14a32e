"""End to end: the rendered buildspec, run locally as CodeBuild would, rebuilds exactly what a commit changed.

A fixture monorepo in tmp_path (git history made here, nothing cloned): the real debian and
python-sci base images, the real identity-matrix, and a tiny second component. Base-image tags
equal this repository's, so the local engine's already-built images are reused, not rebuilt.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

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


def node_lines(stdout: str, identifier: str) -> list[str]:
    pattern = re.compile(rf"^\[{identifier}\s*\] (.*)$")
    return [m.group(1) for line in stdout.splitlines() if (m := pattern.match(line))]


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
def test_a_commit_rebuilds_exactly_the_image_it_changed(
    tmp_path: Path, clean_engine: Engine, ci_registry: LocalRegistry
) -> None:
    root = fixture_monorepo(tmp_path / "mono")
    rendered = r2o_run(root, "render", "codebuild")
    assert rendered.returncode == 0, rendered.stderr
    make_git_repo(root)

    # First run: an empty registry, so every node pushes its image (built ones are reused locally).
    first = run_buildspec(root, ci_registry)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    for ident in ("debian", "python_sci", "identity_matrix", "hello_text"):
        lines = node_lines(first.stdout, ident)
        assert any(line.startswith("pushed 127.0.0.1:") for line in lines), (ident, lines)
    assert any(line.startswith("build hello-text:1.0.0-") for line in node_lines(first.stdout, "hello_text"))
    assert ci_registry.repositories() == ["debian", "hello-text", "identity-matrix", "python-sci"]
    assert "golden case" in "\n".join(node_lines(first.stdout, "hello_text"))
    assert (root / ".r2o" / "reports" / "hello-text.xml").is_file()
    first_tags = ci_registry.tags("hello-text")

    # Commit a change to one component: only that image is built, tested and pushed.
    write(root / "components" / "hello-text" / "hello.py", "import sys\nprint('hello', sys.argv[1])\n")
    commit(root, "hello-text: print with print's own separator")
    second = run_buildspec(root, ci_registry)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
    hello = node_lines(second.stdout, "hello_text")
    assert any(line.startswith("changed since HEAD~1: hello-text's own files") for line in hello), hello
    assert any(line.startswith("build hello-text:1.0.0-") for line in hello), hello
    assert "PASS  hello-text/default" in "\n".join(hello)
    assert any(line.startswith("pushed 127.0.0.1:") for line in hello), hello
    for ident in ("debian", "python_sci", "identity_matrix"):
        lines = node_lines(second.stdout, ident)
        assert any(line.startswith("up to date: ") for line in lines), (ident, lines)
        assert not any(line.startswith(("build ", "push ", "pushed ")) for line in lines), (ident, lines)
    assert len(ci_registry.tags("hello-text")) == len(first_tags) + 1
    assert len(ci_registry.tags("identity-matrix")) == 1

    # A change that breaks the golden case: the node fails, nothing is pushed, the batch fails.
    write(root / "components" / "hello-text" / "hello.py", "import sys\nprint('goodbye', sys.argv[1])\n")
    commit(root, "hello-text: a regression")
    third = run_buildspec(root, ci_registry)
    assert third.returncode == 1, third.stdout[-6000:]
    hello = "\n".join(node_lines(third.stdout, "hello_text"))
    assert "FAIL  hello-text/default" in hello and "is NOT pushed" in hello
    assert "failed      hello_text" in third.stderr
    assert len(ci_registry.tags("hello-text")) == len(first_tags) + 1
    assert 'failures="1"' in (root / ".r2o" / "reports" / "hello-text.xml").read_text()
