"""`r2o render batch`: the payloads, their botocore validation, and clear errors for bad ones."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from r2o.aws import validate
from r2o.errors import ManifestError, UsageError
from r2o.images.plan import ImageGraph
from r2o.render import batch
from r2o.repo import Repository
from tests.conftest import REPO_ROOT

R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]
REGISTRY = "127.0.0.1:5999/science"
FS = "fs-0123456789abcdef0"


def r2o(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*R2O, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def options(**overrides: Any) -> batch.BatchOptions:
    base: dict[str, Any] = {
        "registry": REGISTRY,
        "data": batch.DataVolume(efs_file_system_id=FS),
        "git_commit": "0" * 40,
    }
    base.update(overrides)
    return batch.BatchOptions(**base)


def render(repo_root: Path, name: str = "identity-matrix", **overrides: Any) -> batch.JobDefinition:
    return batch.render_all(Repository(repo_root), [name], options(**overrides))[0]


def test_identity_matrix_payload(repo_copy: Path) -> None:
    definition = render(repo_copy)
    p = definition.payload
    image = ImageGraph.from_repo(Repository(repo_copy)).ref("identity-matrix", REGISTRY)
    content_tag = image.rsplit(":", 1)[1]
    assert definition.name == "r2o-identity-matrix" and definition.filename == "r2o-identity-matrix.json"
    assert p["type"] == "container" and p["platformCapabilities"] == ["EC2"]
    assert p["parameters"] == {"size": "2"}
    c = p["containerProperties"]
    assert c["image"] == image and image.startswith(f"{REGISTRY}/identity-matrix:1.0.0-")
    assert c["command"] == ["Ref::size"]
    assert c["resourceRequirements"] == [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]
    assert c["readonlyRootFilesystem"] is True and c["user"] == "1000:1000"
    assert c["linuxParameters"] == {
        "initProcessEnabled": True,
        "tmpfs": [{"containerPath": "/tmp", "size": 256, "mountOptions": ["rw", "nosuid", "nodev"]}],
    }
    assert c["volumes"] == [
        {
            "name": name,
            "efsVolumeConfiguration": {
                "fileSystemId": FS,
                "transitEncryption": "ENABLED",
                "rootDirectory": f"/r2o/identity-matrix/{name}",
                "authorizationConfig": {"iam": "ENABLED"},
            },
        }
        for name in ("input", "output")
    ]
    assert c["mountPoints"] == [
        {"sourceVolume": "input", "containerPath": "/data/input", "readOnly": True},
        {"sourceVolume": "output", "containerPath": "/data/output", "readOnly": True},  # stdout only
    ]
    # The process limit of local runs (r2o.run.plan.DEFAULT_PIDS_LIMIT, docker --pids-limit 512).
    assert c["ulimits"] == [{"name": "nproc", "softLimit": 512, "hardLimit": 512}]
    assert "secrets" not in c and "ephemeralStorage" not in c
    assert c["logConfiguration"]["logDriver"] == "awslogs"
    assert "jobRoleArn" not in c and "executionRoleArn" not in c
    assert p["retryStrategy"] == {
        "attempts": 2,
        "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    }
    assert p["timeout"] == {"attemptDurationSeconds": 600}
    assert p["propagateTags"] is True
    assert p["tags"]["r2o:component"] == "identity-matrix"
    assert p["tags"]["r2o:version"] == "1.0.0"
    assert p["tags"]["r2o:content-tag"] == content_tag
    assert p["tags"]["r2o:git-commit"] == "0" * 40
    assert validate.problems_in(p, definition.name) == []


def test_roles_access_point_and_host_path(repo_copy: Path) -> None:
    c = render(
        repo_copy,
        job_role_arn="arn:aws:iam::123456789012:role/job",
        execution_role_arn="arn:aws:iam::123456789012:role/exec",
        data=batch.DataVolume(efs_file_system_id=FS, efs_access_point_id="fsap-0123456789abcdef0"),
    ).payload["containerProperties"]
    assert c["jobRoleArn"].endswith("role/job") and c["executionRoleArn"].endswith("role/exec")
    # One access point fixes one directory: the data root stays one volume at /data.
    assert c["volumes"] == [
        {
            "name": "data",
            "efsVolumeConfiguration": {
                "fileSystemId": FS,
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"},
            },
        }
    ]
    assert c["mountPoints"] == [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}]
    host = render(repo_copy, data=batch.DataVolume(host_path="/mnt/r2o/")).payload["containerProperties"]
    assert host["volumes"] == [
        {"name": "input", "host": {"sourcePath": "/mnt/r2o/input"}},
        {"name": "output", "host": {"sourcePath": "/mnt/r2o/output"}},
    ]


def test_data_root_is_exactly_one() -> None:
    with pytest.raises(UsageError, match="exactly one"):
        batch.DataVolume()
    with pytest.raises(UsageError, match="exactly one"):
        batch.DataVolume(efs_file_system_id=FS, host_path="/mnt")


def test_deterministic_and_the_hash_ignores_the_commit(repo_copy: Path) -> None:
    first, second = render(repo_copy), render(repo_copy)
    assert first.to_json() == second.to_json()
    other_commit = render(repo_copy, git_commit="1" * 40)
    assert other_commit.definition_hash == first.definition_hash
    assert render(repo_copy, log_group="/r2o/jobs").definition_hash != first.definition_hash


def test_required_parameter_without_default_gets_none(repo_copy: Path) -> None:
    manifest = repo_copy / "components" / "identity-matrix" / "component.yaml"
    manifest.write_text(
        manifest.read_text().replace("size: {type: integer, default: 2,", "size: {type: integer,")
    )
    assert render(repo_copy).payload["parameters"] == {}


def test_every_component_of_the_repository_passes_botocore() -> None:
    """Every component that loads renders to a payload botocore's RegisterJobDefinition model accepts."""
    repo = Repository(REPO_ROOT)
    names = sorted(repo.loaded.components)
    assert "identity-matrix" in names
    role = "arn:aws:iam::123456789012:role/exec"
    for name in names:
        component = repo.loaded.components[name]
        platforms = component.resources.platforms
        for platform in platforms:
            definition = batch.render_all(repo, [name], options(platform=platform, execution_role_arn=role))[
                0
            ]
            assert validate.problems_in(definition.payload, definition.name) == [], (name, platform)


def test_fargate_payload_has_no_tmpfs_and_a_scratch_tmp(repo_copy: Path) -> None:
    manifest = repo_copy / "components" / "identity-matrix" / "component.yaml"
    manifest.write_text(
        manifest.read_text()
        .replace("memory_mib: 512", "memory_mib: 2048")
        .replace("platforms: [EC2]", "platforms: [FARGATE]")
    )
    definition = render(repo_copy, execution_role_arn="arn:aws:iam::123456789012:role/exec")
    c = definition.payload["containerProperties"]
    assert definition.payload["platformCapabilities"] == ["FARGATE"]
    assert "tmpfs" not in c["linuxParameters"]
    assert {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False} in c["mountPoints"]
    assert c["networkConfiguration"] == {"assignPublicIp": "DISABLED"}
    assert validate.problems_in(definition.payload, definition.name) == []


def _messages(payload: dict[str, Any]) -> str:
    return "\n".join(str(p) for p in validate.problems_in(payload, "r2o-x"))


@pytest.fixture
def good(repo_copy: Path) -> dict[str, Any]:
    return copy.deepcopy(render(repo_copy).payload)


def test_impossible_fargate_pair(repo_copy: Path) -> None:
    payload = render(repo_copy, platform="FARGATE").payload
    text = _messages(payload)
    assert "FARGATE with 1 vCPU does not offer 512 MiB (choose one of 2048" in text
    assert "FARGATE needs an execution role" in text
    assert "tmpfs: is not supported on FARGATE" not in text  # the renderer already left tmpfs out


def test_fargate_without_such_vcpus(good: dict[str, Any]) -> None:
    good["platformCapabilities"] = ["FARGATE"]
    good["containerProperties"]["resourceRequirements"][0]["value"] = "3"
    assert "FARGATE does not offer 3 vCPUs" in _messages(good)


def test_too_many_tags(repo_copy: Path) -> None:
    extra = {f"team{i}": "x" for i in range(50)}
    with pytest.raises(ManifestError) as info:
        validate.check([render(repo_copy, extra_tags=extra)])
    assert "has 55 tags; AWS Batch allows at most 50" in str(info.value)
    assert "components/identity-matrix/component.yaml" in str(info.value)


def test_bad_names(repo_copy: Path, good: dict[str, Any]) -> None:
    text = _messages(render(repo_copy, name_prefix="r2o.").payload)
    assert "'r2o.identity-matrix' is not a valid job definition name" in text
    good["tags"]["aws:owner"] = "me"
    assert "tags key 'aws:owner'" in _messages(good)
    good["jobDefinitionName"] = "x" * 129
    assert "is not a valid job definition name" in _messages(good)


def test_botocore_shape_errors_are_reported(good: dict[str, Any]) -> None:
    good["containerProperties"]["resourceRequirements"][0]["value"] = 1
    good["retryStrategy"]["bogus"] = True
    del good["type"]
    text = _messages(good)
    assert "botocore: Invalid type for parameter containerProperties.resourceRequirements[0].value" in text
    assert 'Unknown parameter in retryStrategy: "bogus"' in text
    assert 'Missing required parameter in input: "type"' in text


def test_enums_and_limits_botocore_leaves_to_the_service(good: dict[str, Any]) -> None:
    good["containerProperties"]["logConfiguration"]["logDriver"] = "stdout"
    good["retryStrategy"]["evaluateOnExit"][0]["action"] = "retry"
    good["retryStrategy"]["attempts"] = 11
    good["timeout"]["attemptDurationSeconds"] = 30
    good["containerProperties"]["resourceRequirements"][1]["value"] = "512.5"
    good["containerProperties"]["resourceRequirements"][0]["value"] = "0.5"
    good["containerProperties"]["environment"] = [{"name": "AWS_BATCH_JOB_ID", "value": "x"}]
    good["containerProperties"]["mountPoints"][0]["sourceVolume"] = "nope"
    text = _messages(good)
    assert "logDriver: 'stdout' is not one of json-file" in text
    assert "action: 'retry' is not one of RETRY, EXIT" in text
    assert "11 is outside AWS Batch's 1-10" in text
    assert "30 s is below AWS Batch's minimum of 60 s" in text
    assert "memory '512.5' must be a whole number of MiB" in text
    assert "EC2 needs a whole number of vCPUs >= 1, not '0.5'" in text
    assert "names starting AWS_BATCH are reserved" in text
    assert "'nope' names no volume" in text


def test_definition_size_limit(good: dict[str, Any]) -> None:
    good["containerProperties"]["environment"] = [{"name": f"V{i}", "value": "x" * 1000} for i in range(30)]
    assert "AWS Batch accepts at most 24576 (24 KiB)" in _messages(good)


def test_cli_writes_one_file_per_component(repo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "defs"
    proc = r2o(
        "render",
        "batch",
        "--registry",
        REGISTRY,
        "--efs-file-system-id",
        FS,
        "--out",
        str(out),
        "--json",
        cwd=repo_copy,
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert [d["jobDefinitionName"] for d in listed] == ["r2o-identity-matrix"]
    written = json.loads((out / "r2o-identity-matrix.json").read_text())
    assert written == listed[0]["payload"]
    assert written["tags"]["r2o:git-commit"] != "unknown"  # repo_copy is a git repository
    assert sorted(p.name for p in out.iterdir()) == ["r2o-identity-matrix.json"]


@pytest.mark.parametrize(
    ("args", "code", "needles"),
    [
        ([], 2, ["no image registry given", "--registry"]),
        (["--registry", REGISTRY], 2, ["exactly one of --efs-file-system-id", "or --data-s3-bucket"]),
        (["--registry", "https://x", "--efs-file-system-id", FS], 2, ["has a scheme (https://)"]),
        (
            ["--registry", REGISTRY, "--efs-file-system-id", FS, "--platform", "FARGATE"],
            3,
            ["FARGATE with 1 vCPU does not offer 512 MiB", "nothing was written or sent"],
        ),
        (
            ["--registry", REGISTRY, "--efs-file-system-id", FS, "--name-prefix", "bad prefix "],
            3,
            ["is not a valid job definition name"],
        ),
        (
            ["--registry", REGISTRY, "--efs-file-system-id", FS, "--tag", "nokey"],
            2,
            ["not of the form NAME=VALUE"],
        ),
        (
            ["--registry", REGISTRY, "--efs-file-system-id", FS, "identity-matrx"],
            4,
            ["did you mean 'identity-matrix'?"],
        ),
    ],
)
def test_cli_errors_write_nothing(
    repo_copy: Path, tmp_path: Path, args: list[str], code: int, needles: list[str]
) -> None:
    out = tmp_path / "defs"
    proc = r2o("render", "batch", "--out", str(out), *args, cwd=repo_copy)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)
    assert not out.exists() or not any(out.iterdir())


def test_cli_too_many_tags(repo_copy: Path, tmp_path: Path) -> None:
    tags = [arg for i in range(47) for arg in ("--tag", f"k{i}=v")]
    proc = r2o(
        "render",
        "batch",
        "--registry",
        REGISTRY,
        "--efs-file-system-id",
        FS,
        "--out",
        str(tmp_path / "o"),
        *tags,
        cwd=repo_copy,
    )
    assert proc.returncode == 3, proc.stderr
    assert "has 52 tags; AWS Batch allows at most 50" in proc.stderr


def test_render_imports_neither_docker_nor_aws_libraries() -> None:
    code = (
        "import sys, r2o.render.batch, r2o.render.cloudformation, r2o.cli.main; "
        "print(sorted(m for m in ('docker', 'boto3', 'botocore') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    # r2o.cli.main loads docker through other commands, never boto3 or botocore (they cost ~0.5 s per start)
    assert proc.stdout.strip() in ("['docker']", "[]")
    code = "import sys, r2o.render.batch, r2o.render.cloudformation; print('docker' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
        == "False"
    )


def test_gpus_and_environment(repo_copy: Path) -> None:
    manifest = repo_copy / "components" / "identity-matrix" / "component.yaml"
    manifest.write_text(
        manifest.read_text().replace("gpus: 0", "gpus: 1")
        + "environment: {OMP_NUM_THREADS: '1', A_FIRST: x}\n"
    )
    definition = render(repo_copy)
    c = definition.payload["containerProperties"]
    assert c["resourceRequirements"][2] == {"type": "GPU", "value": "1"}
    assert c["environment"] == [{"name": "A_FIRST", "value": "x"}, {"name": "OMP_NUM_THREADS", "value": "1"}]
    assert validate.problems_in(definition.payload, definition.name) == []


def _with(repo_root: Path, old: str, new: str) -> None:
    manifest = repo_root / "components" / "identity-matrix" / "component.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"
PARAMETER_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/r2o/api-key"


def test_secrets_are_rendered_as_references(repo_copy: Path) -> None:
    _with(
        repo_copy,
        "network: false",
        f"network: false\nenvironment: {{MODE: fast}}\nsecrets: {{DB_PASSWORD: '{SECRET_ARN}:password::', "
        f"API_KEY: '{PARAMETER_ARN}'}}",
    )
    definition = render(repo_copy, execution_role_arn="arn:aws:iam::123456789012:role/exec")
    c = definition.payload["containerProperties"]
    assert c["secrets"] == [
        {"name": "API_KEY", "valueFrom": PARAMETER_ARN},
        {"name": "DB_PASSWORD", "valueFrom": f"{SECRET_ARN}:password::"},
    ]
    assert c["environment"] == [{"name": "MODE", "value": "fast"}]
    assert validate.problems_in(definition.payload, definition.name) == []
    # Without an execution role nothing could read them.
    assert "secrets need an execution role" in _messages(render(repo_copy).payload)


def test_secret_rules_of_the_payload_check(good: dict[str, Any]) -> None:
    good["containerProperties"]["executionRoleArn"] = "arn:aws:iam::123456789012:role/exec"
    good["containerProperties"]["environment"] = [{"name": "TOKEN", "value": "x"}]
    good["containerProperties"]["secrets"] = [
        {"name": "TOKEN", "valueFrom": PARAMETER_ARN},
        {"name": "TOKEN", "valueFrom": "hunter2"},
    ]
    text = _messages(good)
    assert "'TOKEN' is also a plain environment variable" in text
    assert "'TOKEN' is given twice" in text
    assert "'hunter2' is not the ARN of a Secrets Manager secret or an SSM parameter" in text


@pytest.mark.parametrize(("storage_mib", "size"), [(20480, None), (20481, 21), (51200, 50), (204800, 200)])
def test_fargate_ephemeral_storage_from_storage_mib(
    repo_copy: Path, storage_mib: int, size: int | None
) -> None:
    _with(repo_copy, "memory_mib: 512", f"memory_mib: 2048, storage_mib: {storage_mib}")
    _with(repo_copy, "platforms: [EC2]", "platforms: [FARGATE]")
    definition = render(repo_copy, execution_role_arn="arn:aws:iam::123456789012:role/exec")
    c = definition.payload["containerProperties"]
    if size is None:
        assert "ephemeralStorage" not in c  # Fargate's 20 GiB default
    else:
        assert c["ephemeralStorage"] == {"sizeInGiB": size}
    assert "ulimits" not in c  # Fargate takes no ulimits (but nofile)
    assert validate.problems_in(definition.payload, definition.name) == []


def test_ec2_has_no_per_job_storage_setting(repo_copy: Path) -> None:
    _with(repo_copy, "memory_mib: 512", "memory_mib: 512, storage_mib: 102400")
    c = render(repo_copy).payload["containerProperties"]
    assert "ephemeralStorage" not in c


def test_storage_and_ulimit_rules_of_the_payload_check(good: dict[str, Any]) -> None:
    good["containerProperties"]["ephemeralStorage"] = {"sizeInGiB": 50}
    assert "ephemeralStorage: is only supported on FARGATE" in _messages(good)
    good["platformCapabilities"] = ["FARGATE"]
    good["containerProperties"]["ephemeralStorage"] = {"sizeInGiB": 20}
    text = _messages(good)
    assert "20 is outside Fargate's 21-200 GiB" in text
    assert "ulimits are not supported on FARGATE" in text
    good["containerProperties"]["ulimits"] = [{"name": "nproc", "softLimit": 9, "hardLimit": 8}]
    assert "soft limit 9 is above the hard limit 8" in _messages(good)


def test_a_writer_mounts_outputs_writable_and_inputs_read_only(repo_copy: Path) -> None:
    _with(repo_copy, "inputs: []", "inputs:\n  - {name: grid, path: /data/input/grid.nc, format: netcdf}")
    _with(
        repo_copy,
        "  - {name: matrix, path: stdout,",
        "  - {name: result, path: /data/output/result.nc, format: netcdf}\n  - {name: matrix, path: stdout,",
    )
    definition = render(repo_copy)
    assert definition.payload["containerProperties"]["mountPoints"] == [
        {"sourceVolume": "input", "containerPath": "/data/input", "readOnly": True},
        {"sourceVolume": "output", "containerPath": "/data/output", "readOnly": False},
    ]
    assert validate.problems_in(definition.payload, definition.name) == []


def test_the_longest_names_render_valid_pipeline_definitions(repo_copy: Path) -> None:
    """A component and a pipeline of the longest valid names still give a valid job definition name."""
    from r2o import names
    from r2o.pipeline import batch as pipeline_batch

    long_name = "c" * names.MAX_LENGTH
    folder = repo_copy / "components" / long_name
    shutil.copytree(repo_copy / "components" / "identity-matrix", folder)
    manifest = folder / "component.yaml"
    manifest.write_text(manifest.read_text().replace("name: identity-matrix", f"name: {long_name}"))
    repo = Repository(repo_copy)
    assert repo.loaded.problems == []
    component = repo.component(long_name)
    definition = pipeline_batch.definition_for(
        component, ImageGraph.from_repo(repo).ref(long_name, REGISTRY), options(), "p" * names.MAX_LENGTH
    )
    assert len(definition.payload["jobDefinitionName"]) <= 128
    assert validate.problems_in(definition.payload, definition.name) == []
    # The pipeline definition replaces the component's data volumes with the lake (tasks stage
    # their inputs and outputs through per-task tmpfs folders).
    container = definition.payload["containerProperties"]
    assert [v["name"] for v in container["volumes"]] == ["lake"]
    assert [m["sourceVolume"] for m in container["mountPoints"]] == ["lake"]
