"""`r2o render cloudformation`: one template that cfn-lint accepts, with least-privilege IAM."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from r2o.images.plan import ImageGraph
from r2o.render import cloudformation
from r2o.repo import Repository
from tests.conftest import REPO_ROOT, git

CFN_LINT = Path(sys.executable).with_name("cfn-lint")
R2O = [sys.executable, "-c", "from r2o.cli.main import main; main()"]


def lint(template: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(cloudformation.to_yaml(template))
    proc = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.fixture
def rich_repo(repo_copy: Path) -> Path:
    """identity-matrix plus wrf (a file input and a file output) and a FARGATE component."""
    shutil.copytree(
        REPO_ROOT / "libs", repo_copy / "libs", ignore=shutil.ignore_patterns("__pycache__", "tests")
    )
    shutil.copytree(
        REPO_ROOT / "components" / "wrf",
        repo_copy / "components" / "wrf",
        ignore=shutil.ignore_patterns("__pycache__", "tests"),
    )
    fargate = repo_copy / "components" / "tiny-fargate"
    shutil.copytree(repo_copy / "components" / "identity-matrix", fargate)
    manifest = fargate / "component.yaml"
    manifest.write_text(
        manifest.read_text()
        .replace("name: identity-matrix", "name: tiny-fargate")
        .replace("memory_mib: 512", "memory_mib: 2048")
        .replace("[EC2]", "[FARGATE]")
    )
    git(repo_copy, "add", "-A")
    git(repo_copy, "commit", "-q", "-m", "more components")
    return repo_copy


def actions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("Action", "NotAction"):
                yield from [value] if isinstance(value, str) else value
            else:
                yield from actions(value)
    elif isinstance(node, list):
        for item in node:
            yield from actions(item)


@pytest.mark.integration  # cfn-lint: seconds per template
def test_cfn_lint_reports_nothing(repo_copy: Path, tmp_path: Path) -> None:
    lint(cloudformation.render(Repository(repo_copy)), tmp_path)


@pytest.mark.integration  # cfn-lint: seconds per template
def test_cfn_lint_reports_nothing_with_file_io_and_fargate(rich_repo: Path, tmp_path: Path) -> None:
    lint(cloudformation.render(Repository(rich_repo)), tmp_path)


@pytest.mark.integration  # cfn-lint: seconds per template
def test_cfn_lint_catches_a_broken_template(repo_copy: Path, tmp_path: Path) -> None:
    """The lint test can fail: a wrong enum value is reported."""
    template = cloudformation.render(Repository(repo_copy))
    template["Resources"]["IdentityMatrixRepository"]["Properties"]["ImageTagMutability"] = "SOMETIMES"
    path = tmp_path / "broken.yaml"
    path.write_text(cloudformation.to_yaml(template))
    proc = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "'SOMETIMES' is not one of" in proc.stdout


def test_repositories_for_components_and_base_images(repo_copy: Path) -> None:
    repo = Repository(repo_copy)
    resources = cloudformation.render(repo)["Resources"]
    ecr = {
        r["Properties"]["RepositoryName"]: r["Properties"]
        for r in resources.values()
        if isinstance(r, dict) and r["Type"] == "AWS::ECR::Repository"  # (Fn::ForEach entries are lists)
    }
    assert set(ecr) == {"identity-matrix", *repo.images}
    for props in ecr.values():
        assert props["ImageTagMutability"] == "IMMUTABLE"
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
        rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]


def test_job_definition_matches_render_batch(repo_copy: Path) -> None:
    repo = Repository(repo_copy)
    tag = ImageGraph.from_repo(repo).node("identity-matrix").tag_only
    props = cloudformation.render(repo)["Resources"]["IdentityMatrixJobDefinition"]["Properties"]
    assert props["JobDefinitionName"] == "r2o-identity-matrix"
    assert props["Parameters"] == {"size": "2"}
    assert props["RetryStrategy"]["Attempts"] == 2
    assert props["RetryStrategy"]["EvaluateOnExit"][0] == {"OnStatusReason": "Host EC2*", "Action": "RETRY"}
    assert props["Timeout"] == {"AttemptDurationSeconds": 600}
    assert props["Tags"]["r2o:content-tag"] == tag and "r2o:definition-sha256" not in props["Tags"]
    c = props["ContainerProperties"]
    assert c["Image"] == {"Fn::Sub": f"${{IdentityMatrixRepository.RepositoryUri}}:{tag}"}
    assert c["Command"] == ["Ref::size"] and c["User"] == "1000:1000" and c["ReadonlyRootFilesystem"] is True
    assert c["JobRoleArn"] == {"Fn::GetAtt": ["IdentityMatrixJobRole", "Arn"]}
    efs, s3 = c["Volumes"]["Fn::If"][1:]
    assert efs[0]["EfsVolumeConfiguration"]["AuthorizationConfig"] == {
        "AccessPointId": {"Ref": "IdentityMatrixAccessPoint"},
        "Iam": "ENABLED",
    }
    assert s3 == [{"Name": "data"}]


def test_no_wildcard_actions_and_job_roles_reach_only_their_data(rich_repo: Path) -> None:
    resources = cloudformation.render(Repository(rich_repo))["Resources"]
    found = list(actions(resources))
    assert found and all("*" not in a for a in found), [a for a in found if "*" in a]

    def policies(role: str) -> tuple[Any, Any]:
        efs, s3 = resources[role]["Properties"]["Policies"][0]["Fn::If"][1:]
        return efs, s3

    efs, s3 = policies("WrfJobRole")
    assert efs["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": {"Fn::GetAtt": ["DataFileSystem", "Arn"]},
            "Condition": {
                "StringEquals": {
                    "elasticfilesystem:AccessPointArn": {"Fn::GetAtt": ["WrfAccessPoint", "Arn"]}
                }
            },
        }
    ]
    bucket = "arn:${AWS::Partition}:s3:::${DataBucket}"
    read, write, listing = s3["PolicyDocument"]["Statement"]
    assert read == {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [
            {"Fn::Sub": f"{bucket}/r2o/wrf/input/coarse"},
            {"Fn::Sub": f"{bucket}/r2o/wrf/input/coarse/*"},
        ],
    }
    assert write["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert write["Resource"] == [
        {"Fn::Sub": f"{bucket}/r2o/wrf/output/wrfout"},
        {"Fn::Sub": f"{bucket}/r2o/wrf/output/wrfout/*"},
    ]
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["r2o/wrf/input/coarse*", "r2o/wrf/output/wrfout*"]}
    }
    efs, s3 = policies("IdentityMatrixJobRole")  # prints to stdout only: mount, no write, no S3 at all
    assert efs["PolicyDocument"]["Statement"][0]["Action"] == ["elasticfilesystem:ClientMount"]
    assert s3 == {"Ref": "AWS::NoValue"}
    access_point = resources["WrfAccessPoint"]["Properties"]
    assert access_point["RootDirectory"]["Path"] == "/r2o/wrf"
    assert access_point["PosixUser"] == {"Uid": "1000", "Gid": "1000"}
    fargate = resources["TinyFargateJobDefinition"]["Properties"]
    assert fargate["PlatformCapabilities"] == ["FARGATE"]
    assert "Tmpfs" not in fargate["ContainerProperties"]["LinuxParameters"]


def test_compute_queue_and_codebuild(repo_copy: Path) -> None:
    template = cloudformation.render(Repository(repo_copy))
    resources = template["Resources"]
    assert {"Subnets", "SecurityGroupIds", "InstanceTypes", "MaxVcpus", "UseSpot", "DataBucket"} <= set(
        template["Parameters"]
    )
    compute = resources["ComputeEnvironment"]["Properties"]["ComputeResources"]
    assert compute["Type"] == {"Fn::If": ["UseSpot", "SPOT", "EC2"]}
    assert compute["MaxvCpus"] == {"Ref": "MaxVcpus"}
    queue = resources["JobQueue"]["Properties"]
    assert queue["ComputeEnvironmentOrder"] == [
        {"Order": 1, "ComputeEnvironment": {"Ref": "ComputeEnvironment"}}
    ]
    project = resources["BuildProject"]["Properties"]
    assert project["Source"]["BuildSpec"] == "buildspec.yml"
    assert project["BuildBatchConfig"]["ServiceRole"] == {"Fn::GetAtt": ["BuildRole", "Arn"]}
    assert resources["DataFileSystem"]["Properties"]["Encrypted"] is True


def test_cli_prints_or_writes_the_template(repo_copy: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*R2O, "render", "cloudformation"], cwd=repo_copy, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    printed = yaml.safe_load(proc.stdout)
    assert "IdentityMatrixJobDefinition" in printed["Resources"]
    out = tmp_path / "stack" / "r2o.yaml"
    proc = subprocess.run(
        [*R2O, "render", "cloudformation", "--out", str(out)],
        cwd=repo_copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == cloudformation.to_yaml(printed) and not proc.stdout


def test_cli_refuses_an_invalid_repository(repo_copy: Path, tmp_path: Path) -> None:
    (repo_copy / "components" / "broken").mkdir()
    out = tmp_path / "r2o.yaml"
    proc = subprocess.run(
        [*R2O, "render", "cloudformation", "--out", str(out)],
        cwd=repo_copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "component folder has no component.yaml" in proc.stderr
    assert not out.exists()


@pytest.mark.integration  # cfn-lint: seconds per template
def test_the_repository_template_passes_cfn_lint(tmp_path: Path) -> None:
    """The template of this repository itself (every component and base image)."""
    template = cloudformation.render(Repository(REPO_ROOT))
    repo = Repository(REPO_ROOT)
    assert {f"{cloudformation.logical_id(n)}JobDefinition" for n in repo.components} <= set(
        template["Resources"]
    )
    lint(template, tmp_path)
