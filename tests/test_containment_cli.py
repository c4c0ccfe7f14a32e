"""Containment and bad input through the real CLI, without Docker (the Docker tier repeats the attacks
in images: tests/docker/test_containment.py).

Each test performs one attack or one bad input named by issue 14 and asserts the exit code, the
message, and that nothing leaked or was left behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.test_cli import R2O, assert_clean_error, r2o

HOSTILE = REPO_ROOT / "tests" / "fixtures" / "hostile"
SECRET = "root:$6$never-copied\n"


@pytest.fixture
def repo(repo_copy: Path) -> Path:
    shutil.copytree(HOSTILE, repo_copy / "components" / "hostile")
    return repo_copy


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "shadow"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def leaves_nothing(folder: Path, *allowed: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(allowed)


def holds_nowhere(root: Path, text: str) -> bool:
    return not any(
        p.is_file() and not p.is_symlink() and text in p.read_text(errors="replace") for p in root.rglob("*")
    )


# --- 1, 2, 3, 5: outputs are untrusted (the native runner is the same runner) -----------------------


@pytest.mark.parametrize(
    ("mode", "needle"),
    [
        ("link", "marker.txt: a symbolic link to SECRET"),
        ("hardlink", "marker.txt: a hard link to a file with 1 other name(s) outside the output folder"),
        ("fifo", "marker.txt: a FIFO"),
        ("folder", "marker (/data/output/marker.txt) is a folder, declared a file"),
    ],
)
def test_unsafe_outputs_fail_with_exit_14(
    repo: Path, tmp_path: Path, secret: Path, mode: str, needle: str
) -> None:
    out = tmp_path / "out"
    proc = r2o(
        "run",
        "hostile",
        "--native",
        "-p",
        f"mode={mode}",
        "-p",
        f"target={secret}",
        "--output",
        str(out),
        cwd=repo,
    )
    assert_clean_error(proc, 14, needle.replace("SECRET", str(secret)))
    assert not out.exists()
    leaves_nothing(tmp_path, "repo", "shadow")
    assert secret.read_text() == SECRET and (secret.stat().st_mode & 0o777) == 0o600


def test_a_linked_output_never_reaches_expected(repo: Path, secret: Path) -> None:
    case = repo / "components" / "hostile" / "tests" / "golden" / "steal"
    case.mkdir(parents=True)
    (case / "case.yaml").write_text(f"description: steal\nparameters: {{mode: link, target: '{secret}'}}\n")
    proc = r2o("golden", "record", "hostile", "--native", cwd=repo)
    assert_clean_error(proc, 14, f"marker.txt: a symbolic link to {secret}")
    leaves_nothing(case, "case.yaml")
    assert holds_nowhere(repo, SECRET.strip())


def test_the_storage_limit_stops_a_native_run(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = r2o(
        "run", "hostile", "--native", "-p", "mode=fill", "-p", "megabytes=256", "--output", str(out), cwd=repo
    )
    assert_clean_error(proc, 15, "hostile was killed at its storage limit of 64 MiB (native)")
    assert "the storage limit did not stop me" not in proc.stderr
    leaves_nothing(tmp_path, "repo")


def test_undeclared_outputs_are_reported(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = r2o("run", "hostile", "--native", "-p", "mode=extra", "--output", str(out), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "r2o: warning: hostile wrote files no output declares: scratch; not kept" in proc.stderr
    leaves_nothing(out, "marker.txt", "stdout.txt")


def test_compare_refuses_fifos_and_links_inside_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for side in (a, b):
        side.mkdir()
        (side / "x.txt").write_text("1\n")
    os.mkfifo(tmp_path / "pipe")
    assert_clean_error(r2o("compare", str(a / "x.txt"), str(tmp_path / "pipe")), 10, "is a FIFO")
    (b / "y.txt").symlink_to("/etc/passwd")
    (a / "y.txt").write_text("root\n")
    assert_clean_error(r2o("compare", str(a), str(b)), 10, "y.txt: a symbolic link to /etc/passwd")
    assert_clean_error(r2o("compare", "/dev/null", str(a / "x.txt")), 10, "is a character device")


def test_compare_var_for_a_variable_in_neither_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("O3,NO2\n1,2\n")
    (tmp_path / "b.csv").write_text("O3,NO2\n1,2\n")
    proc = r2o("compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--var", "SO2:rtol=0.1")
    assert_clean_error(proc, 2, "--var SO2: no variable, column, array or key of that name", "NO2, O3")
    ok = r2o("compare", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--var", "O3:rtol=0.1")
    assert ok.returncode == 0, ok.stderr


# --- 8: inputs are confined -------------------------------------------------------------------------


def _reader(repo: Path, from_ref: str) -> Path:
    comp = repo / "components" / "reader"
    comp.mkdir()
    (comp / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    (comp / "component.yaml").write_text(
        "apiVersion: r2o/v1\nname: reader\nversion: 1.0.0\ndescription: cats its input\nbase: python-sci\n"
        'command: ["cat", "/data/input/matrix.txt"]\n'
        "resources: {vcpus: 1, memory_mib: 256, timeout_s: 60, retries: 1}\n"
        "inputs:\n  - {name: matrix, path: /data/input/matrix.txt, format: text}\n"
        "outputs:\n  - {name: copy, path: stdout, format: text}\n"
    )
    case = comp / "tests" / "golden" / "chained"
    case.mkdir(parents=True)
    (case / "case.yaml").write_text(f"description: chained\ninputs:\n  matrix: {{from: {from_ref}}}\n")
    return case


@pytest.mark.parametrize(
    ("ref", "field"),
    [
        ("{component: identity-matrix, case: /tmp/x, output: matrix}", "inputs.matrix.from.case"),
        ("{component: identity-matrix, case: ../../../../etc, output: matrix}", "inputs.matrix.from.case"),
        ("{component: ../../etc, case: x, output: matrix}", "inputs.matrix.from.component"),
    ],
)
def test_from_references_stay_inside_the_repository(repo: Path, ref: str, field: str) -> None:
    _reader(repo, ref)
    proc = r2o("test", "reader", "--native", cwd=repo)
    assert_clean_error(proc, 3, f"case.yaml:3: {field}", "is not a name")


def test_from_without_output_names_the_field(repo: Path) -> None:
    _reader(repo, "{component: identity-matrix, case: size-4}")
    proc = r2o("test", "reader", "--native", cwd=repo)
    assert_clean_error(proc, 3, "inputs.matrix.from.output: required field is missing")
    assert "is not valid under any of the given schemas" not in proc.stderr


def test_a_linked_expected_file_is_an_error_and_never_followed(repo: Path, secret: Path) -> None:
    expected = repo / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"
    expected.unlink()
    expected.symlink_to(secret)
    proc = r2o("test", "identity-matrix", "--case", "size-4", "--native", cwd=repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "stdout.txt in" in proc.stdout
        and "is a symbolic link; r2o never follows links in expected/" in proc.stdout
    )
    assert SECRET.strip() not in proc.stdout + proc.stderr


def test_a_linked_from_source_is_refused(repo: Path, secret: Path) -> None:
    expected = repo / "components/identity-matrix/tests/golden/size-4/expected/stdout.txt"
    expected.unlink()
    expected.symlink_to(secret)
    _reader(repo, "{component: identity-matrix, case: size-4, output: matrix}")
    proc = r2o("golden", "record", "reader", "--native", cwd=repo)
    assert_clean_error(proc, 3, "expected/stdout.txt is a symbolic link")
    assert holds_nowhere(repo / "components" / "reader", SECRET.strip())


def test_a_symlinked_component_folder_is_an_error_everywhere(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(repo / "components" / "identity-matrix", outside)
    (repo / "components" / "linked").symlink_to(outside)
    for args in (("validate",), ("list",), ("build", "linked", "--dry-run"), ("run", "linked", "--native")):
        proc = r2o(*args, cwd=repo)
        assert_clean_error(proc, 3, "components/linked", "is a symbolic link")


def test_a_parameter_error_in_a_case_names_the_file_and_line(repo: Path) -> None:
    case = repo / "components/identity-matrix/tests/golden/size-4/case.yaml"
    case.write_text("description: bad size\nparameters:\n  size: 0\n")
    proc = r2o("test", "identity-matrix", "--native", cwd=repo)
    assert_clean_error(
        proc, 3, "size-4/case.yaml:3: parameters.size: parameter 'size': 0 is below the minimum 1"
    )


# --- 12: no input reaches an internal error -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("pipeline", "plan", "aqcast", "--start", "9999-12-30", "--days", "5"), 2, "ends after 9999-12-31"),
        (("pipeline", "plan", "aqcast", "--start", "2024-01-01", "--days", "40000"), 2, "outside 1-36600"),
        (
            ("build", "identity-matrix", "--push", "--registry", "no such host:5000"),
            2,
            "is not a registry address",
        ),
        (("build", "identity-matrix", "--push", "--registry", "https://host"), 2, "without a scheme"),
        (("images", "--registry", "host:99999"), 2, "port 99999 is outside 1-65535"),
    ],
)
def test_bad_arguments_are_clear_errors(args: tuple[str, ...], code: int, needle: str) -> None:
    proc = r2o(*args)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert needle in proc.stderr


def test_a_device_is_not_an_input_file(repo: Path, tmp_path: Path) -> None:
    proc = r2o(
        "run", "hostile", "--native", "--input", "secret=/dev/zero", "--output", str(tmp_path / "o"), cwd=repo
    )
    assert_clean_error(proc, 3, "input 'secret' must be a file; /dev/zero is a character device")


# --- 10: secrets reach a local run from the caller's environment, and nowhere else ----------------

SECRET_MANIFEST = """\
apiVersion: r2o/v1
name: keyed
version: 1.0.0
description: Prints a digest of its API key.
base: python-sci
command:
  - python3
  - -c
  - "import hashlib, os; print(hashlib.sha256(os.environ['API_KEY'].encode()).hexdigest())"
secrets: {API_KEY: "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-key-AbCdEf"}
resources: {vcpus: 1, memory_mib: 256, timeout_s: 60, retries: 1}
outputs:
  - {name: digest, path: stdout, format: text}
"""


def test_a_secret_comes_from_the_callers_environment_only(repo: Path, tmp_path: Path) -> None:
    comp = repo / "components" / "keyed"
    comp.mkdir()
    (comp / "component.yaml").write_text(SECRET_MANIFEST)
    (comp / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    out = tmp_path / "out"
    missing = r2o("run", "keyed", "--native", "--output", str(out), cwd=repo)
    assert_clean_error(missing, 2, "keyed needs the secret API_KEY", "export API_KEY=...")
    value = "s3cr3t-value-never-on-disk"
    env = {**os.environ, "API_KEY": value}
    for args in (("--dry-run",), ()):
        proc = subprocess.run(
            [*R2O, "run", "keyed", "--native", "--output", str(out), *args],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert value not in proc.stdout + proc.stderr
    assert (out / "stdout.txt").read_text() == hashlib.sha256(value.encode()).hexdigest() + "\n"
    assert holds_nowhere(repo, value) and holds_nowhere(tmp_path, value)
