"""`r2o validate` also checks every golden case.yaml and lints every Dockerfile (through the real CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.test_cli import assert_clean_error, r2o

COMPONENT = Path("components") / "identity-matrix"
CASE = COMPONENT / "tests" / "golden" / "size-4" / "case.yaml"
DOCKERFILE = COMPONENT / "Dockerfile"


def append(path: Path, text: str) -> int:
    """Append ``text`` to ``path``; return the line number of its first line."""
    before = path.read_text()
    path.write_text(before + text)
    return before.count("\n") + 1


def test_a_broken_case_fails_validate(repo_copy: Path) -> None:
    line = append(repo_copy / CASE, "expected_by: nobody\n")
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        f"{CASE}:{line}: expected_by: unknown key 'expected_by'",
        "fix the files above, then run: r2o validate",
    )


def test_a_case_naming_an_unknown_input_or_parameter_fails_validate(repo_copy: Path) -> None:
    case = repo_copy / CASE
    case.write_text(case.read_text().replace("parameters: {size: 4}", "parameters: {sise: 4}"))
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(proc, 3, f"{CASE}:2: parameters.sise: identity-matrix has no parameter 'sise'")


def test_from_references_must_name_a_real_case_and_output(repo_copy: Path) -> None:
    reader = repo_copy / "components" / "reader"
    shutil.copytree(repo_copy / COMPONENT, reader)
    manifest = reader / "component.yaml"
    manifest.write_text(
        manifest.read_text()
        .replace("name: identity-matrix", "name: reader")
        .replace("inputs: []", "inputs:\n  - {name: grid, path: /data/input/matrix.txt, format: text}")
    )
    case = reader / "tests" / "golden" / "size-4" / "case.yaml"
    case.write_text(
        "description: Reads another case's output.\nparameters: {size: 4}\ninputs:\n"
        "  grid: {from: {component: identity-matrix, case: size-9, output: matrx}}\n"
    )
    proc = r2o("validate", cwd=repo_copy)
    where = "components/reader/tests/golden/size-4/case.yaml:4"
    assert_clean_error(
        proc,
        3,
        f"{where}: inputs.grid.from.case: identity-matrix has no golden case 'size-9'",
        f"{where}: inputs.grid.from.output: identity-matrix has no output 'matrx' (did you mean 'matrix'?)",
    )


def test_a_dockerfile_error_names_file_line_rule_and_help(repo_copy: Path) -> None:
    line = append(repo_copy / DOCKERFILE, "RUN curl -fsSL https://example.org/install.sh | bash\n")
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        f"{DOCKERFILE}:{line}: DF003 download-piped-to-shell: RUN runs a downloaded script in a shell "
        "(No `curl ... | sh`",
    )
    proc = r2o("validate", "--json", cwd=repo_copy)
    assert proc.returncode == 3
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    [finding] = report["lint"]
    assert finding == {
        "file": str(DOCKERFILE),
        "line": line,
        "rule": "DF003",
        "name": "download-piped-to-shell",
        "severity": "error",
        "message": "RUN runs a downloaded script in a shell",
        "help": finding["help"],
    }
    assert [p["field"] for p in report["problems"]] == ["DF003 download-piped-to-shell"]


def test_every_rule_of_the_issue_fails_validate(repo_copy: Path) -> None:
    dockerfile = repo_copy / DOCKERFILE
    dockerfile.write_text(
        "FROM python:3\n"  # 1: not a project image
        "ENV DB_PASSWORD=hunter2\n"  # 2: a secret
        "ARG GITHUB_TOKEN\n"  # 3: a secret build argument
        "ADD https://example.org/tool.tgz /opt/\n"  # 4: a download
        "RUN wget -qO- https://example.org/i | sh\n"  # 5: piped to a shell
        "USER root\n"  # 6: ends as root
    )
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        *(
            f"{DOCKERFILE}:{line}: {rule}"
            for line, rule in [
                (1, "DF005"),
                (2, "DF001"),
                (3, "DF001"),
                (4, "DF002"),
                (5, "DF003"),
                (6, "DF004"),
            ]
        ),
    )
    assert "hunter2" not in proc.stderr


def test_warnings_are_printed_and_do_not_fail(repo_copy: Path) -> None:
    line = append(repo_copy / DOCKERFILE, "USER 0\nRUN chmod 777 /app\nUSER 1000\n") + 1
    proc = r2o("validate", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    assert (
        f"warning: {DOCKERFILE}:{line}: DF006 world-writable: chmod 777 makes files writable" in proc.stderr
    )
    assert (
        "ok: 1 component and 3 base images are valid (2 golden cases, 4 Dockerfiles checked)" in proc.stdout
    )
    report = json.loads(r2o("validate", "--json", cwd=repo_copy).stdout)
    assert report["ok"] is True and [f["severity"] for f in report["lint"]] == ["warning"]


def test_paths_limit_what_is_reported(repo_copy: Path) -> None:
    append(repo_copy / DOCKERFILE, "RUN curl https://x.org/i | sh\n")
    assert r2o("validate", "python-sci", cwd=repo_copy).returncode == 0
    assert_clean_error(r2o("validate", "identity-matrix", cwd=repo_copy), 3, "DF003")


def test_names_that_share_a_cloudformation_id(repo_copy: Path) -> None:
    for name in ("model-2", "model2"):
        folder = repo_copy / "components" / name
        shutil.copytree(repo_copy / COMPONENT, folder)
        manifest = folder / "component.yaml"
        manifest.write_text(manifest.read_text().replace("name: identity-matrix", f"name: {name}"))
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        "components/model-2/component.yaml:2: name: 'model-2' and 'model2' both become the CloudFormation id "
        "'Model2'",
        "components/model2/component.yaml:2: name:",
    )


def test_the_repository_itself_validates_without_findings() -> None:
    proc = r2o("validate", "--json", cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout
    report = json.loads(proc.stdout)
    assert report["lint"] == [] and report["problems"] == []
    components = sorted(
        p.name for p in (REPO_ROOT / "components").iterdir() if (p / "component.yaml").is_file()
    )
    assert {d.split("/")[1] for d in report["dockerfiles"] if d.startswith("components/")} == set(components)
    cases = sorted(
        f"{c.parent.parent.parent.name}/{c.name}" for c in (REPO_ROOT / "components").glob("*/tests/golden/*")
    )
    assert report["golden_cases"] == cases
