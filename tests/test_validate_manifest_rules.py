"""`r2o validate` refuses what build, Batch or CloudFormation would refuse later, naming file, field, line.

Names (components, base images, pipelines), container paths (inputs under /data/input, outputs under
/data/output), secrets written as environment values, and ``secrets:`` that are not references.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_cli import assert_clean_error, r2o

MANIFEST = Path("components") / "identity-matrix" / "component.yaml"


def edit(root: Path, old: str, new: str) -> None:
    """Replace ``old`` in identity-matrix's manifest."""
    path = root / MANIFEST
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def line_of(root: Path, needle: str) -> int:
    lines = (root / MANIFEST).read_text().splitlines()
    return 1 + next(i for i, line in enumerate(lines) if needle in line)


def test_an_input_outside_data_input_is_refused(repo_copy: Path) -> None:
    edit(
        repo_copy,
        "inputs: []",
        "inputs:\n  - {name: code, path: /app/algorithm.py, kind: file}\n  - {name: pw, path: /etc/passwd}",
    )
    proc = r2o("validate", cwd=repo_copy)
    where = f"{MANIFEST}:{line_of(repo_copy, 'path: /app/algorithm.py')}: inputs[0].path"
    assert_clean_error(
        proc,
        3,
        f"{where}: '/app/algorithm.py' is outside the input root /data/input",
        "e.g. /data/input/algorithm.py",
        f"{MANIFEST}:{line_of(repo_copy, '/etc/passwd')}: inputs[1].path: '/etc/passwd' is outside",
    )


def test_an_output_outside_data_output_is_refused(repo_copy: Path) -> None:
    edit(
        repo_copy,
        "  - {name: matrix, path: stdout,",
        "  - {name: copy, path: /data/input/x.txt}\n  - {name: matrix, path: stdout,",
    )
    proc = r2o("validate", "--json", cwd=repo_copy)
    assert proc.returncode == 3, proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    [problem] = [p for p in problems if p["field"] == "outputs[0].path"]
    assert "outside the output root /data/output" in problem["message"]
    assert "/data/output/x.txt" in problem["hint"]
    assert problem["line"] == line_of(repo_copy, "/data/input/x.txt")


def test_a_component_name_ending_in_a_hyphen_is_refused(repo_copy: Path) -> None:
    src = repo_copy / "components" / "identity-matrix"
    bad = repo_copy / "components" / "trailing-"
    shutil.copytree(src, bad)
    manifest = bad / "component.yaml"
    manifest.write_text(manifest.read_text().replace("name: identity-matrix", "name: trailing-"))
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        "components/trailing-/component.yaml:2: name: 'trailing-' ends with a hyphen",
        "e.g. 'trailing'",
        "ECR repository",
    )


def test_a_double_hyphen_base_image_name_is_refused(repo_copy: Path) -> None:
    bad = repo_copy / "base-images" / "my--image"
    shutil.copytree(repo_copy / "base-images" / "python-sci", bad)
    image = bad / "image.yaml"
    image.write_text(image.read_text().replace("name: python-sci", "name: my--image"))
    line = 1 + image.read_text().splitlines().index("name: my--image")
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        f"base-images/my--image/image.yaml:{line}: name: 'my--image' has a double hyphen",
        "e.g. 'my-image'",
    )


def test_a_pipeline_name_too_short_is_refused(repo_copy: Path) -> None:
    (repo_copy / "pipelines").mkdir()
    (repo_copy / "pipelines" / "p.yaml").write_text(
        "apiVersion: r2o/v1\nkind: Pipeline\nname: p\ndescription: d\n"
        "steps:\n  eye: {component: identity-matrix}\n"
    )
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc, 3, "pipelines/p.yaml:3: name: 'p' is too short: a name has at least 2 characters"
    )


def test_secret_values_in_environment_are_refused_and_never_echoed(repo_copy: Path) -> None:
    edit(
        repo_copy,
        "network: false",
        "network: false\nenvironment:\n  MODE: fast\n  DB_PASSWORD: hunter2\n  S3_USER: AKIAIOSFODNN7EXAMPLE",
    )
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        f"{MANIFEST}:{line_of(repo_copy, 'DB_PASSWORD')}: environment.DB_PASSWORD: "
        "DB_PASSWORD looks like the name of a secret",
        f"{MANIFEST}:{line_of(repo_copy, 'S3_USER')}: environment.S3_USER: "
        "the value of S3_USER looks like an AWS access key id",
        "secrets: {DB_PASSWORD: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME}",
    )
    assert "hunter2" not in proc.stderr + proc.stdout
    assert "AKIAIOSFODNN7EXAMPLE" not in proc.stderr + proc.stdout
    assert "environment.MODE" not in proc.stderr


def test_secrets_must_be_references(repo_copy: Path) -> None:
    edit(
        repo_copy,
        "network: false",
        "network: false\nsecrets:\n  DB_PASSWORD: hunter2\n"
        "  API_KEY: arn:aws:ssm:us-east-1:123456789012:parameter/r2o/api-key",
    )
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        f"{MANIFEST}:{line_of(repo_copy, 'DB_PASSWORD')}: secrets.DB_PASSWORD: 'hunter2' is not the ARN of a "
        "Secrets Manager secret or an SSM parameter",
    )
    assert "secrets.API_KEY" not in proc.stderr


def test_valid_secrets_storage_and_outputs_extra_validate(repo_copy: Path) -> None:
    edit(
        repo_copy,
        "network: false",
        "network: false\noutputs_extra: keep\nsecrets:\n"
        "  DB_PASSWORD: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\n"
        "  API_KEY: arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/r2o/api-key",
    )
    edit(repo_copy, "retries: 2,", "retries: 2, storage_mib: 51200,")
    proc = r2o("validate", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    proc = r2o("show", "identity-matrix", "--json", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["resources"]["storage_mib"] == 51200
    assert shown["outputs_extra"] == "keep"
    assert shown["secrets"]["DB_PASSWORD"] == "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


def test_defaults_of_the_new_fields(repo_copy: Path) -> None:
    proc = r2o("show", "identity-matrix", "--json", cwd=repo_copy)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["resources"]["storage_mib"] == 20 * 1024  # Fargate's default ephemeral storage
    assert shown["outputs_extra"] == "drop"
    assert shown["secrets"] == {}


def test_a_version_with_build_metadata_is_refused(repo_copy: Path) -> None:
    image = repo_copy / "base-images" / "python-sci" / "image.yaml"
    text = image.read_text()
    version_line = next(line for line in text.splitlines() if line.startswith("version:"))
    image.write_text(text.replace(version_line, "version: 1.0.0+local"))
    line = 1 + image.read_text().splitlines().index("version: 1.0.0+local")
    edit(repo_copy, "version: 1.0.0", "version: 1.0.0+build.7")
    proc = r2o("validate", cwd=repo_copy)
    assert_clean_error(
        proc,
        3,
        f"base-images/python-sci/image.yaml:{line}: version: '1.0.0+local' has build metadata (+...), "
        "which a Docker tag cannot hold",
        f"{MANIFEST}:3: version: '1.0.0+build.7' has build metadata",
        "use a pre-release suffix such as 1.0.0-rc1",
    )
