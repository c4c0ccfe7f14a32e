"""A consumer's golden cases that read another component's expected output depend on it."""

from __future__ import annotations

import shutil
from pathlib import Path

from r2o import changes
from r2o.images.plan import ImageGraph
from r2o.repo import Repository
from tests.conftest import git


def _consumer(repo: Path) -> None:
    comp = repo / "components" / "reader"
    (comp / "tests/golden/chained").mkdir(parents=True)
    (comp / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (comp / "component.yaml").write_text(
        "apiVersion: r2o/v1\nname: reader\nversion: 1.0.0\ndescription: cats its input\nbase: python-sci\n"
        'command: ["cat", "/data/input/matrix.txt"]\n'
        "resources: {vcpus: 1, memory_mib: 256, timeout_s: 60, retries: 1}\n"
        "inputs:\n  - {name: matrix, path: /data/input/matrix.txt, format: text}\n"
        "outputs:\n  - {name: copy, path: stdout, format: text}\n"
    )
    (comp / "tests/golden/chained/case.yaml").write_text(
        "description: chained\ninputs:\n"
        "  matrix: {from: {component: identity-matrix, case: size-4, output: matrix}}\n"
    )


def test_producer_expected_output_changes_consumer_tag_and_change_set(repo_copy: Path) -> None:
    _consumer(repo_copy)
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-q", "-m", "reader")
    before = ImageGraph.from_repo(Repository(repo_copy)).nodes
    expected = repo_copy / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"
    expected.write_text(expected.read_text() + "\n")
    git(repo_copy, "commit", "-q", "-am", "re-record identity-matrix")
    after = ImageGraph.from_repo(Repository(repo_copy)).nodes
    assert after["reader"].tag != before["reader"].tag
    assert after["identity-matrix"].tag != before["identity-matrix"].tag
    assert after["python-sci"].tag == before["python-sci"].tag
    found = changes.detect(Repository(repo_copy), base="HEAD~1")
    assert found.components_changed == ("identity-matrix",)
    assert found.components_affected == {"reader": ("golden input from identity-matrix changed",)}


def test_other_cases_of_the_producer_do_not_count(repo_copy: Path) -> None:
    _consumer(repo_copy)
    before = ImageGraph.from_repo(Repository(repo_copy)).nodes["reader"].tag
    other = repo_copy / "components/identity-matrix/tests/golden/default-size/expected/stdout.txt"
    other.write_text("changed\n")
    assert ImageGraph.from_repo(Repository(repo_copy)).nodes["reader"].tag == before
    shutil.rmtree(repo_copy / "components" / "reader")
