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

from r2o.ci import plan
from r2o.images.plan import ImageGraph
from r2o.render import cloudformation, codebuild
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
    assert c["Ulimits"] == [{"Name": "nproc", "SoftLimit": 512, "HardLimit": 512}]
    efs, s3 = c["Volumes"]["Fn::If"][1:]
    assert [v["Name"] for v in efs] == ["input", "output"]
    assert efs[0]["EfsVolumeConfiguration"]["AuthorizationConfig"] == {
        "AccessPointId": {"Ref": "IdentityMatrixInputAccessPoint"},
        "Iam": "ENABLED",
    }
    assert efs[1]["EfsVolumeConfiguration"]["AuthorizationConfig"]["AccessPointId"] == {
        "Ref": "IdentityMatrixOutputAccessPoint"
    }
    assert s3 == [{"Name": "input"}, {"Name": "output"}]
    # EFS: inputs read-only; S3 staging: the job copies its inputs in, so both are writable.
    on_efs, staged = c["MountPoints"]["Fn::If"][1:]
    assert on_efs == [
        {"SourceVolume": "input", "ContainerPath": "/data/input", "ReadOnly": True},
        {"SourceVolume": "output", "ContainerPath": "/data/output", "ReadOnly": True},
    ]
    assert [m["ReadOnly"] for m in staged] == [False, False]


def test_no_wildcard_actions_and_job_roles_reach_only_their_data(rich_repo: Path) -> None:
    resources = cloudformation.render(Repository(rich_repo))["Resources"]
    found = list(actions(resources))
    assert found and all("*" not in a for a in found), [a for a in found if "*" in a]

    def policies(role: str) -> tuple[Any, Any]:
        efs, s3 = resources[role]["Properties"]["Policies"][0]["Fn::If"][1:]
        return efs, s3

    efs, s3 = policies("WrfJobRole")
    file_system = {"Fn::GetAtt": ["DataFileSystem", "Arn"]}
    input_ap, output_ap = ({"Fn::GetAtt": [f"Wrf{k}AccessPoint", "Arn"]} for k in ("Input", "Output"))
    assert efs["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount"],
            "Resource": file_system,
            "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": [input_ap, output_ap]}},
        },
        {  # write through the output access point only
            "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientWrite"],
            "Resource": file_system,
            "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": [output_ap]}},
        },
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
    assert [st["Action"] for st in efs["PolicyDocument"]["Statement"]] == [["elasticfilesystem:ClientMount"]]
    assert s3 == {"Ref": "AWS::NoValue"}
    for kind in ("input", "output"):
        access_point = resources[f"Wrf{kind.title()}AccessPoint"]["Properties"]
        assert access_point["RootDirectory"]["Path"] == f"/r2o/wrf/{kind}"
        assert access_point["PosixUser"] == {"Uid": "1000", "Gid": "1000"}
    wrf_mounts = resources["WrfJobDefinition"]["Properties"]["ContainerProperties"]["MountPoints"]["Fn::If"][
        1
    ]
    assert [(m["ContainerPath"], m["ReadOnly"]) for m in wrf_mounts] == [
        ("/data/input", True),
        ("/data/output", False),
    ]
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
    assert project["ServiceRole"] == {"Fn::GetAtt": ["BuildRole", "Arn"]}
    assert project["BuildBatchConfig"]["ServiceRole"] == {"Fn::GetAtt": ["BuildBatchRole", "Arn"]}
    assert resources["DataFileSystem"]["Properties"]["Encrypted"] is True


def codebuild_actions(role: dict[str, Any]) -> dict[str, list[Any]]:
    """CodeBuild action -> the resources a role's policies allow it on."""
    out: dict[str, list[Any]] = {}
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                if action.startswith("codebuild:"):
                    out.setdefault(action, []).extend(statement["Resource"])
    return out


def test_the_planner_may_start_watch_and_stop_its_own_batch_and_nothing_else(repo_copy: Path) -> None:
    resources = cloudformation.render(Repository(repo_copy))["Resources"]
    project_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/"
        "${AWS::StackName}-build"
    }
    # The planner runs as the project's service role: StartBuildBatch (r2o ci start-batch),
    # BatchGetBuildBatches (waiting), StopBuildBatch (stopped while waiting), on this project only.
    assert codebuild_actions(resources["BuildRole"]) == {
        "codebuild:StartBuildBatch": [project_arn],
        "codebuild:BatchGetBuildBatches": [project_arn],
        "codebuild:StopBuildBatch": [project_arn],
    }
    # CodeBuild runs the batch's builds with the batch service role: start, stop, retry; nothing else.
    batch_role = resources["BuildBatchRole"]
    assert codebuild_actions(batch_role) == {
        "codebuild:StartBuild": [project_arn],
        "codebuild:StopBuild": [project_arn],
        "codebuild:RetryBuild": [project_arn],
    }
    assert [len(p["PolicyDocument"]["Statement"]) for p in batch_role["Properties"]["Policies"]] == [1]
    assert batch_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "codebuild.amazonaws.com"
    }
    # What the planner starts fits the project's batch restrictions.
    restrictions = resources["BuildProject"]["Properties"]["BuildBatchConfig"]["Restrictions"]
    assert codebuild.BATCH_COMPUTE_TYPE in restrictions["ComputeTypesAllowed"]
    assert restrictions["MaximumBuildsAllowed"] >= plan.MAX_BUILDS_LIMIT
    assert restrictions["MaximumBuildsAllowed"] >= codebuild.DEFAULT_MAX_BUILDS
    # The planner waits for its batch: the project lets a build run as long as a batch may, and a
    # planned build's timeout never exceeds it.
    project = resources["BuildProject"]["Properties"]
    assert project["TimeoutInMinutes"] == project["BuildBatchConfig"]["TimeoutInMins"] == 480
    assert codebuild.PLANNED_BUILD_MINUTES[1] <= 480


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


def test_job_roles_trust_only_ecs_tasks_of_this_account(rich_repo: Path) -> None:
    resources = cloudformation.render(Repository(rich_repo))["Resources"]
    job_roles = [k for k in resources if k.endswith("JobRole")]
    assert sorted(job_roles) == ["IdentityMatrixJobRole", "TinyFargateJobRole", "WrfJobRole"]
    for role in job_roles:
        [statement] = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf"
PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/r2o/api-key"


@pytest.fixture
def secret_repo(repo_copy: Path) -> Path:
    """identity-matrix with a Secrets Manager secret (a JSON key of it) and an SSM parameter."""
    manifest = repo_copy / "components" / "identity-matrix" / "component.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "network: false",
            f"network: false\nsecrets: {{DB_PASSWORD: '{SECRET}:password::', API_KEY: '{PARAMETER}'}}",
        )
    )
    return repo_copy


def test_secrets_get_their_own_execution_role(secret_repo: Path) -> None:
    resources = cloudformation.render(Repository(secret_repo))["Resources"]
    container = resources["IdentityMatrixJobDefinition"]["Properties"]["ContainerProperties"]
    assert container["Secrets"] == [
        {"Name": "API_KEY", "ValueFrom": PARAMETER},
        {"Name": "DB_PASSWORD", "ValueFrom": f"{SECRET}:password::"},
    ]
    assert container["ExecutionRoleArn"] == {"Fn::GetAtt": ["IdentityMatrixExecutionRole", "Arn"]}
    statements = resources["IdentityMatrixExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    by_action = {tuple(st["Action"]): st["Resource"] for st in statements}
    # Exactly these ARNs: the secret without the ECS JSON-key selector, the parameter as named.
    assert by_action[("secretsmanager:GetSecretValue",)] == [SECRET]
    assert by_action[("ssm:GetParameters",)] == [PARAMETER]
    assert by_action[tuple(cloudformation._ECR_PULL)] == [{"Fn::GetAtt": ["IdentityMatrixRepository", "Arn"]}]
    assert not any(a.startswith("kms:") for a in actions(statements))
    # The shared execution role (components without secrets) reads no secret at all.
    shared = list(actions(resources["ExecutionRole"]))
    assert not any(a.startswith(("secretsmanager:", "ssm:")) for a in shared)
    # CodeBuild may pass the new role to Batch (it registers the job definitions).
    build = resources["BuildRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [pass_role] = [st for st in build if st["Action"] == ["iam:PassRole"]]
    assert {"Fn::GetAtt": ["IdentityMatrixExecutionRole", "Arn"]} in pass_role["Resource"]


@pytest.mark.integration  # cfn-lint: seconds per template
def test_cfn_lint_reports_nothing_with_secrets(secret_repo: Path, tmp_path: Path) -> None:
    lint(cloudformation.render(Repository(secret_repo)), tmp_path)


# --- the template is composed of pieces, one per AWS concern -----------------------------------------


def test_compose_joins_the_sections_of_pieces_in_order() -> None:
    a = cloudformation.Piece(
        resources={"Bucket": {"Type": "AWS::S3::Bucket"}},
        parameters={"Second": {"Type": "String"}},
        outputs={"BucketName": {"Value": {"Ref": "Bucket"}}},
    )
    b = cloudformation.Piece(
        resources={"Table": {"Type": "AWS::DynamoDB::Table"}},
        parameters={"First": {"Type": "String"}},
        conditions={"Always": {"Fn::Equals": ["a", "a"]}},
        transforms=("AWS::LanguageExtensions",),
    )
    template = cloudformation.compose("two pieces", [a, b], listed={"Parameters": ["First", "Unknown"]})
    assert list(template) == [
        "AWSTemplateFormatVersion",
        "Transform",
        "Description",
        "Parameters",
        "Conditions",
        "Resources",
        "Outputs",
    ]
    assert template["Transform"] == "AWS::LanguageExtensions"
    assert list(template["Parameters"]) == ["First", "Second"]  # listed first, then in piece order
    assert list(template["Resources"]) == ["Bucket", "Table"]
    assert "Conditions" not in cloudformation.compose("one piece", [a])  # an empty section is left out
    with pytest.raises(ValueError, match=r"two pieces of the template define Resources\.Bucket: rename one"):
        cloudformation.compose("twice", [a, cloudformation.Piece(resources=a.resources)])


def test_each_piece_holds_one_concern(repo_copy: Path) -> None:
    catalog = cloudformation.Catalog.of(Repository(repo_copy))
    pieces = {
        "ecr": cloudformation.ecr_repositories(catalog),
        "jobs": cloudformation.component_jobs(catalog),
        "logs": cloudformation.job_logs(),
        "execution": cloudformation.execution_role(catalog),
        "compute": cloudformation.compute_environment(),
        "queue": cloudformation.job_queue(),
        "data": cloudformation.data_file_system(),
        "codebuild": cloudformation.codebuild(catalog),
    }
    types = {  # (a Fn::ForEach entry is a list)
        name: sorted({r["Type"] for r in p.resources.values() if isinstance(r, dict)})
        for name, p in pieces.items()
    }
    assert types == {
        "ecr": ["AWS::ECR::Repository"],
        "jobs": ["AWS::Batch::JobDefinition", "AWS::EFS::AccessPoint", "AWS::IAM::Role"],
        "logs": ["AWS::Logs::LogGroup"],
        "execution": ["AWS::IAM::Role"],
        "compute": ["AWS::Batch::ComputeEnvironment", "AWS::IAM::InstanceProfile", "AWS::IAM::Role"],
        "queue": ["AWS::Batch::JobQueue"],
        "data": ["AWS::EFS::FileSystem"],  # and its mount targets, one per subnet (Fn::ForEach)
        "codebuild": ["AWS::CodeBuild::Project", "AWS::IAM::Role", "AWS::Logs::LogGroup"],
    }
    assert {name: sorted(p.parameters) for name, p in pieces.items() if p.parameters} == {
        "compute": ["InstanceTypes", "MaxVcpus", "SecurityGroupIds", "Subnets", "UseSpot"],
        "queue": ["JobQueueName"],
        "data": ["DataBucket"],
        "codebuild": ["SourceLocation", "SourceType"],
    }
    assert pieces["data"].transforms == ("AWS::LanguageExtensions",)
    assert list(pieces["data"].resources["Fn::ForEach::MountTargets"][2]) == ["DataMountTarget&{SubnetId}"]


@pytest.mark.integration  # cfn-lint: seconds per template
def test_a_later_stack_extends_the_template_with_pieces(repo_copy: Path, tmp_path: Path) -> None:
    """A service stack adds its own pieces (here an S3 bucket for products, with a parameter and an
    output); r2o's pieces come out unchanged and the whole template passes cfn-lint."""
    repo = Repository(repo_copy)
    products = cloudformation.Piece(
        resources={
            "ProductBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {"Ref": "ProductBucketName"},
                    "VersioningConfiguration": {"Status": "Enabled"},
                },
            }
        },
        parameters={"ProductBucketName": {"Type": "String", "Description": "Where products are kept."}},
        outputs={"ProductBucketArn": {"Value": {"Fn::GetAtt": ["ProductBucket", "Arn"]}}},
    )
    pieces = [*cloudformation.r2o_pieces(cloudformation.Catalog.of(repo)), products]
    template = cloudformation.compose(cloudformation.DESCRIPTION, pieces, listed=cloudformation.LISTED)
    alone = cloudformation.render(repo)
    for section in ("Parameters", "Resources", "Outputs"):
        assert list(template[section])[:-1] == list(alone[section])
        assert {k: v for k, v in template[section].items() if k in alone[section]} == alone[section]
    assert list(template["Resources"])[-1] == "ProductBucket"
    lint(template, tmp_path)
