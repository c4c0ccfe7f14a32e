"""Golden cases through the real CLI with --native: verdicts, record, repeat, JUnit, case errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from r2o.golden.cases import cases_of
from r2o.repo import Repository
from tests.conftest import REPO_ROOT
from tests.test_cli import R2O, assert_clean_error, r2o

FIXTURES = REPO_ROOT / "tests" / "fixtures"


def add_fixture(repo: Path, name: str) -> Path:
    dest = repo / "components" / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


def assert_every_repository_case_passes(*options: str) -> None:
    """`r2o test` over the whole repository: every component has a case and every case passes."""
    # in the Docker tier on a fresh machine this builds every image first: allow for it
    proc = subprocess.run(
        [*R2O, "test", "--json", *options], cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads(proc.stdout)
    assert all(r["status"] == "pass" for r in results), [r for r in results if r["status"] != "pass"]
    repo = Repository(REPO_ROOT)
    expected = {(name, case.name) for name, c in repo.components.items() for case in cases_of(c)}
    assert {(r["component"], r["case"]) for r in results} == expected
    assert {name for name, _ in expected} == set(repo.components)


@pytest.mark.integration  # runs every science component once (~12 s, cmaq most of it)
def test_every_component_of_the_repository_passes_its_golden_cases_natively() -> None:
    """The science of every component reproduces its recorded cases on the host (the Docker tier
    does the same in the images, twice)."""
    assert_every_repository_case_passes("--native")


def test_identity_matrix_passes_natively(repo_copy: Path, tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "golden.xml"
    proc = r2o("test", "identity-matrix", "--native", "--junit", str(junit), cwd=repo_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  identity-matrix/default-size" in proc.stdout
    assert "PASS  identity-matrix/size-4" in proc.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"


def test_a_changed_expected_output_fails(repo_copy: Path, tmp_path: Path) -> None:
    expected = repo_copy / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"
    expected.write_text(expected.read_text().replace("[0. 0. 0. 1.]", "[0. 0. 0. 2.]"))
    junit = tmp_path / "golden.xml"
    proc = r2o("test", "identity-matrix", "--native", "--junit", str(junit), cwd=repo_copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  identity-matrix/size-4" in proc.stdout
    assert "PASS  identity-matrix/default-size" in proc.stdout
    assert "Traceback" not in proc.stderr
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert len(failures) == 1


def test_repeat_reports_nondeterminism(repo_copy: Path) -> None:
    add_fixture(repo_copy, "nondeterministic")
    proc = r2o("test", "nondeterministic", "--native", "--repeat", "2", cwd=repo_copy)
    assert proc.returncode == 1
    assert "NOT DETERMINISTIC nondeterministic/once" in proc.stdout
    assert "not deterministic: noise differ between 2 runs" in proc.stdout


def test_repeat_passes_a_deterministic_component(repo_copy: Path) -> None:
    proc = r2o("test", "identity-matrix", "--native", "--repeat", "2", cwd=repo_copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_record_refuses_to_overwrite(repo_copy: Path) -> None:
    proc = r2o("golden", "record", "identity-matrix", "--native", cwd=repo_copy)
    assert_clean_error(proc, 3, "expected outputs already exist", "--force")


def test_record_force_reports_changes(repo_copy: Path) -> None:
    expected = repo_copy / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"
    good = expected.read_text()
    expected.write_text("stale\n")
    proc = r2o("golden", "record", "identity-matrix", "--native", "--force", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    assert "re-recorded identity-matrix/size-4" in proc.stdout and "changed outputs" in proc.stdout
    assert "re-recorded identity-matrix/default-size" in proc.stdout and "no output changed" in proc.stdout
    assert expected.read_text() == good
    assert not list((expected.parent.parent).glob(".expected*"))


def test_record_a_new_case(repo_copy: Path) -> None:
    case = repo_copy / "components/identity-matrix/tests/golden/size-3"
    case.mkdir()
    (case / "case.yaml").write_text("description: Order 3.\nparameters: {size: 3}\n")
    proc = r2o("golden", "record", "identity-matrix", "--case", "size-3", "--native", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    assert (case / "expected" / "stdout.txt").read_text().count("1.") == 3


def test_bad_case_file_is_explained(repo_copy: Path) -> None:
    case = repo_copy / "components/identity-matrix/tests/golden/size-4/case.yaml"
    case.write_text("description: x\nparameters: {sise: 4}\ncompare:\n  matrx: {mode: exact}\n")
    proc = r2o("test", "identity-matrix", "--native", cwd=repo_copy)
    assert_clean_error(
        proc, 3, "case.yaml:2: parameters.sise", "did you mean 'size'?", "case.yaml:4: compare.matrx"
    )
    case.write_text("description: x\ncompare:\n  matrix: {mode: exakt, rtol: -1}\n")
    proc = r2o("test", "identity-matrix", "--native", cwd=repo_copy)
    assert_clean_error(proc, 3, "compare.matrix.mode", "did you mean 'exact'?", "compare.matrix.rtol")


def test_unknown_case(repo_copy: Path) -> None:
    proc = r2o("test", "identity-matrix", "--case", "size-5", "--native", cwd=repo_copy)
    assert_clean_error(proc, 4, "no golden case 'size-5'", "did you mean 'size-4'?")


def test_from_input_without_recorded_output(repo_copy: Path) -> None:
    comp = repo_copy / "components" / "reader"
    comp.mkdir()
    (comp / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (comp / "component.yaml").write_text(
        "apiVersion: r2o/v1\nname: reader\nversion: 1.0.0\ndescription: cats its input\nbase: python-sci\n"
        'command: ["cat", "/data/input/matrix.txt"]\n'
        "resources: {vcpus: 1, memory_mib: 256, timeout_s: 60, retries: 1}\n"
        "inputs:\n  - {name: matrix, path: /data/input/matrix.txt, format: text}\n"
        "outputs:\n  - {name: copy, path: stdout, format: text}\n"
    )
    case = comp / "tests/golden/chained"
    case.mkdir(parents=True)
    (case / "case.yaml").write_text(
        "description: chained\ninputs:\n"
        "  matrix: {from: {component: identity-matrix, case: size-9, output: matrix}}\n"
    )
    proc = r2o("test", "reader", "--native", cwd=repo_copy)
    assert proc.returncode == 1
    assert "inputs.matrix.from: identity-matrix has no golden case 'size-9'" in proc.stdout
    assert "cases of identity-matrix: default-size, size-4" in proc.stdout
    (case / "case.yaml").write_text(
        "description: chained\ninputs:\n"
        "  matrix: {from: {component: identity-matrix, case: size-4, output: matrix}}\n"
    )
    proc = r2o("golden", "record", "reader", "--native", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    expected = repo_copy / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"
    assert (case / "expected" / "stdout.txt").read_text() == expected.read_text()
