"""One CloudFormation template for the whole AWS side of r2o, built as data and dumped to YAML.

What it holds:

- an ECR repository per component and per base image (scan on push, immutable tags, a lifecycle
  policy that expires untagged layers and keeps the newest tagged images);
- a job definition per component, the same as ``r2o render batch`` renders (converted to
  CloudFormation's property names), its image ``<repository URI>:<content tag>``;
- a managed EC2 (optionally Spot) compute environment and a job queue;
- the data root: an EFS file system (encrypted, TLS-only) with two access points per component,
  ``/r2o/<component>/input`` (mounted read-only at /data/input) and ``/r2o/<component>/output``
  (at /data/output, writable when the component writes files), both owned by uid 1000; or, when
  the ``DataBucket`` parameter names an S3 bucket, that bucket as the data lake (then /data/input
  and /data/output are job-local scratch that staging fills and empties);
- least-privilege IAM roles: no wildcard actions anywhere; one job role per component that reaches
  only its own data — its input access point (read) and output access point (write only if it
  writes files), or in S3 exactly the prefixes of its declared inputs (read) and file outputs
  (write): ``r2o/<component>/input/<input name>`` and ``r2o/<component>/output/<output name>``;
  job roles trust ECS tasks of this account only (``aws:SourceAccount``);
- the execution role that pulls images and writes logs; a component with ``secrets:`` gets its
  own execution role that may also read exactly those secrets (``secretsmanager:GetSecretValue``
  or ``ssm:GetParameters`` on the ARNs the manifest names), so no other job definition can be
  pointed at them;
- the CodeBuild project that runs ``buildspec.yml`` as a batch build (BuildBatchConfig), and its
  service role (push to the ECR repositories, register the job definitions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from r2o.errors import UsageError
from r2o.images.plan import ImageGraph
from r2o.manifest import SECRETS_MANAGER_ARN, Component, secret_resource
from r2o.render import batch
from r2o.repo import Repository

BUILDSPEC = "buildspec.yml"
CODEBUILD_IMAGE = "aws/codebuild/standard:7.0"
LOG_RETENTION_DAYS = 90
KEEP_TAGGED_IMAGES = 200
UNTAGGED_DAYS = 7
DATA_PREFIX = "r2o"
_PLACEHOLDER = "__r2o_placeholder__"
# Maps in the Batch payload whose keys are data, not property names.
_OPAQUE = frozenset({"parameters", "tags", "options"})
# The actions an ECS container instance needs (AmazonEC2ContainerServiceforEC2Role without its
# ecr/logs part, which the execution role covers, and with ecs:Submit* spelled out).
_INSTANCE_ACTIONS = [
    "ec2:DescribeTags",
    "ecs:CreateCluster",
    "ecs:DeregisterContainerInstance",
    "ecs:DiscoverPollEndpoint",
    "ecs:Poll",
    "ecs:RegisterContainerInstance",
    "ecs:StartTelemetrySession",
    "ecs:UpdateContainerInstancesState",
    "ecs:SubmitAttachmentStateChanges",
    "ecs:SubmitContainerStateChange",
    "ecs:SubmitTaskStateChange",
]
_ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
_ECR_PUSH = [
    *_ECR_PULL,
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]


def logical_id(name: str, suffix: str = "") -> str:
    """``identity-matrix`` -> ``IdentityMatrix`` (+ suffix): CloudFormation ids are alphanumeric."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part) + suffix


def pascal(value: Any, key: str = "") -> Any:
    """A Batch API payload in CloudFormation's property names (camelCase -> PascalCase)."""
    if isinstance(value, dict):
        if key in _OPAQUE:
            return dict(value)
        return {k[:1].upper() + k[1:]: pascal(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v, key) for v in value]
    return value


def _arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> dict[str, str]:
    where = f"{'${AWS::Region}' if region else ''}:{'${AWS::AccountId}' if account else ''}"
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:{where}:{resource}"}


def _trust(service: str, *, this_account_only: bool = False) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if this_account_only:
        # Confused-deputy guard recommended for ECS task roles: only tasks of this account.
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _policy(name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


def lifecycle_policy() -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {UNTAGGED_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": UNTAGGED_DAYS,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {KEEP_TAGGED_IMAGES} content-tagged images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": KEEP_TAGGED_IMAGES,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=False,
    )


def _parameters() -> dict[str, Any]:
    return {
        "Subnets": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Subnets of the compute environment (and of the EFS mount targets).",
        },
        "SecurityGroupIds": {
            "Type": "List<AWS::EC2::SecurityGroup::Id>",
            "Description": "Security groups of the instances; they must allow NFS (2049) "
            "among themselves when EFS is the data root.",
        },
        "InstanceTypes": {
            "Type": "CommaDelimitedList",
            "Default": "optimal",
            "Description": "EC2 instance types or families for the compute environment.",
        },
        "MaxVcpus": {
            "Type": "Number",
            "Default": 256,
            "MinValue": 1,
            "Description": "Upper bound of vCPUs the compute environment scales to.",
        },
        "UseSpot": {
            "Type": "String",
            "Default": "true",
            "AllowedValues": ["true", "false"],
            "Description": "Run on Spot instances (job definitions retry on Spot reclaim).",
        },
        "DataBucket": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "Description": "An S3 bucket as the data lake instead of an EFS file system "
            "(empty: create the EFS data root).",
        },
        "JobQueueName": {
            "Type": "String",
            "Default": "r2o",
            "AllowedPattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
            "Description": "Name of the job queue (r2o submit --queue).",
        },
        "SourceType": {
            "Type": "String",
            "Default": "GITHUB",
            "AllowedValues": ["GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "CODECOMMIT"],
            "Description": "Where CodeBuild finds the repository.",
        },
        "SourceLocation": {
            "Type": "String",
            "MinLength": 1,
            "Description": "Clone URL of this repository, for CodeBuild.",
        },
    }


ACCESS_POINTS = {batch.INPUT_VOLUME: "InputAccessPoint", batch.OUTPUT_VOLUME: "OutputAccessPoint"}


def _component_resources(
    component: Component, tag: str, definition: batch.JobDefinition, repositories: Mapping[str, str]
) -> dict[str, Any]:
    lid = logical_id(component.name)
    resources: dict[str, Any] = {}
    writes = batch.writes_files(component)
    for volume, suffix in ACCESS_POINTS.items():
        resources[f"{lid}{suffix}"] = {
            "Type": "AWS::EFS::AccessPoint",
            "Condition": "CreateEfs",
            "Properties": {
                "FileSystemId": {"Ref": "DataFileSystem"},
                "PosixUser": {"Uid": "1000", "Gid": "1000"},
                "RootDirectory": {
                    "Path": f"{batch.EFS_COMPONENT_ROOT.format(component=component.name)}/{volume}",
                    "CreationInfo": {"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "0750"},
                },
                "AccessPointTags": [{"Key": batch.TAG_COMPONENT, "Value": component.name}],
            },
        }

    def access_point(volume: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [f"{lid}{ACCESS_POINTS[volume]}", "Arn"]}

    def efs_statement(actions: list[str], volumes: list[str]) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Action": actions,
            "Resource": {"Fn::GetAtt": ["DataFileSystem", "Arn"]},
            "Condition": {
                "StringEquals": {"elasticfilesystem:AccessPointArn": [access_point(v) for v in volumes]}
            },
        }

    efs_statements = [efs_statement(["elasticfilesystem:ClientMount"], list(ACCESS_POINTS))]
    if writes:
        efs_statements.append(efs_statement(["elasticfilesystem:ClientWrite"], [batch.OUTPUT_VOLUME]))
    efs_policy = _policy(f"{component.name}-data", efs_statements)
    s3_statements = _s3_statements(component)
    s3_policy: Any = (
        _policy(f"{component.name}-data", s3_statements) if s3_statements else {"Ref": "AWS::NoValue"}
    )
    resources[f"{lid}JobRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"What the containers of {component.name} may reach: its own data, nothing else.",
            "AssumeRolePolicyDocument": _trust("ecs-tasks.amazonaws.com", this_account_only=True),
            "Policies": [{"Fn::If": ["CreateEfs", efs_policy, s3_policy]}],
        },
    }
    execution_role = "ExecutionRole"
    if component.secrets:
        execution_role = f"{lid}ExecutionRole"
        resources[execution_role] = _secrets_execution_role(component, repositories[component.name])
    payload = definition.payload
    props = pascal({k: v for k, v in payload.items() if k != "tags"})
    props["Tags"] = {k: v for k, v in payload["tags"].items() if k != batch.TAG_DEFINITION_HASH}
    container = props["ContainerProperties"]
    container["Image"] = {"Fn::Sub": f"${{{repositories[component.name]}.RepositoryUri}}:{tag}"}
    container["JobRoleArn"] = {"Fn::GetAtt": [f"{lid}JobRole", "Arn"]}
    container["ExecutionRoleArn"] = {"Fn::GetAtt": [execution_role, "Arn"]}
    container["LogConfiguration"]["Options"]["awslogs-group"] = {"Ref": "JobLogGroup"}
    efs_volumes = [
        {
            "Name": volume,
            "EfsVolumeConfiguration": {
                "FileSystemId": {"Ref": "DataFileSystem"},
                "TransitEncryption": "ENABLED",
                "AuthorizationConfig": {"AccessPointId": {"Ref": f"{lid}{suffix}"}, "Iam": "ENABLED"},
            },
        }
        for volume, suffix in ACCESS_POINTS.items()
    ]
    scratch_volumes = [{"Name": volume} for volume in ACCESS_POINTS]
    others = [v for v in container["Volumes"] if v["Name"] not in batch.DATA_VOLUMES]
    container["Volumes"] = {"Fn::If": ["CreateEfs", [*efs_volumes, *others], [*scratch_volumes, *others]]}
    # With S3 staging the job itself copies inputs into /data/input, so only the EFS layout can
    # mount inputs read-only.
    staged = [
        {**m, "ReadOnly": False} if m["SourceVolume"] in batch.DATA_VOLUMES else m
        for m in container["MountPoints"]
    ]
    container["MountPoints"] = {"Fn::If": ["CreateEfs", container["MountPoints"], staged]}
    resources[f"{lid}JobDefinition"] = {"Type": "AWS::Batch::JobDefinition", "Properties": props}
    return resources


def _pull_and_log(repository_arns: list[Any]) -> list[dict[str, Any]]:
    return [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Effect": "Allow", "Action": _ECR_PULL, "Resource": repository_arns},
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [{"Fn::GetAtt": ["JobLogGroup", "Arn"]}],
        },
    ]


def _secrets_execution_role(component: Component, repository: str) -> dict[str, Any]:
    """An execution role for one component: pull its image, write its logs, read exactly its secrets.

    No kms:Decrypt: secrets and SecureString parameters encrypted with the AWS managed keys
    (aws/secretsmanager, aws/ssm) need none. A secret under a customer managed key needs
    kms:Decrypt on that key, which the manifest does not name: grant it in the key's policy.
    """
    arns = sorted({secret_resource(arn) for arn in component.secrets.values()})
    secrets_manager = [a for a in arns if SECRETS_MANAGER_ARN.match(a)]
    parameters = [a for a in arns if not SECRETS_MANAGER_ARN.match(a)]
    statements = _pull_and_log([{"Fn::GetAtt": [repository, "Arn"]}])
    if secrets_manager:
        statements.append(
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets_manager}
        )
    if parameters:
        statements.append({"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": parameters})
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"Pulls the image of {component.name}, writes its logs and reads its secrets.",
            "AssumeRolePolicyDocument": _trust("ecs-tasks.amazonaws.com"),
            "Policies": [_policy(f"{component.name}-pull-log-secrets", statements)],
        },
    }


def _s3_statements(component: Component) -> list[dict[str, Any]]:
    root = f"{DATA_PREFIX}/{component.name}"

    def objects(kind: str, name: str) -> list[dict[str, str]]:
        prefix = f"arn:${{AWS::Partition}}:s3:::${{DataBucket}}/{root}/{kind}/{name}"
        return [{"Fn::Sub": prefix}, {"Fn::Sub": prefix + "/*"}]

    reads = [r for spec in component.inputs for r in objects("input", spec.name)]
    writes = [r for spec in component.outputs if not spec.is_stdout for r in objects("output", spec.name)]
    out: list[dict[str, Any]] = []
    if reads:
        out.append({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": reads})
    if writes:
        out.append(
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"], "Resource": writes}
        )
    if reads or writes:
        prefixes = [f"{root}/input/{s.name}*" for s in component.inputs] + [
            f"{root}/output/{s.name}*" for s in component.outputs if not s.is_stdout
        ]
        out.append(
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DataBucket}"},
                "Condition": {"StringLike": {"s3:prefix": prefixes}},
            }
        )
    return out


def render(repo: Repository, *, git_commit: str = "unknown") -> dict[str, Any]:
    """The template as a dict (every component and base image of ``repo``, which must be valid)."""
    loaded = repo.require_valid()
    graph = ImageGraph.from_repo(repo)
    names = sorted(loaded.components)
    images = sorted(loaded.images)
    ids = [logical_id(n) for n in names + images]
    if len(set(ids)) != len(ids):
        raise UsageError(
            "two image names map to the same CloudFormation id (they differ only in punctuation)",
            hint="rename one of them",
        )
    options = batch.BatchOptions(
        registry=_PLACEHOLDER,
        # Split input/output layout (the template makes one access point for each); the volumes
        # themselves are replaced below.
        data=batch.DataVolume(efs_file_system_id=_PLACEHOLDER),
        job_role_arn=_PLACEHOLDER,
        execution_role_arn=_PLACEHOLDER,
        git_commit=git_commit,
    )
    resources: dict[str, Any] = {}
    repositories: dict[str, str] = {}
    for name in names + images:
        rid = logical_id(name, "Repository")
        repositories[name] = rid
        resources[rid] = {
            "Type": "AWS::ECR::Repository",
            "Properties": {
                "RepositoryName": name,
                "ImageTagMutability": "IMMUTABLE",
                "ImageScanningConfiguration": {"ScanOnPush": True},
                "EncryptionConfiguration": {"EncryptionType": "AES256"},
                "LifecyclePolicy": {"LifecyclePolicyText": lifecycle_policy()},
            },
        }
    for name in names:
        component = loaded.components[name]
        node = graph.node(name)
        definition = batch.render_component(component, node.ref(_PLACEHOLDER), options)
        resources.update(_component_resources(component, node.tag_only, definition, repositories))
    secret_roles = [logical_id(n, "ExecutionRole") for n in names if loaded.components[n].secrets]
    resources.update(
        _shared_resources([repositories[n] for n in names], list(repositories.values()), names, secret_roles)
    )
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::LanguageExtensions",
        "Description": "r2o: ECR repositories, AWS Batch job definitions, queue and compute environment, "
        "data root, IAM roles and the CodeBuild project (rendered by r2o render cloudformation; "
        "do not edit by hand).",
        "Parameters": _parameters(),
        "Conditions": {
            "UseSpot": {"Fn::Equals": [{"Ref": "UseSpot"}, "true"]},
            "CreateEfs": {"Fn::Equals": [{"Ref": "DataBucket"}, ""]},
        },
        "Resources": resources,
        "Outputs": {
            "JobQueueName": {"Value": {"Ref": "JobQueueName"}, "Description": "r2o submit --queue"},
            "JobLogGroupName": {"Value": {"Ref": "JobLogGroup"}},
            "ExecutionRoleArn": {"Value": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}},
            "DataFileSystemId": {
                "Condition": "CreateEfs",
                "Value": {"Ref": "DataFileSystem"},
                "Description": "r2o render batch --efs-file-system-id",
            },
            "BuildProjectName": {"Value": {"Ref": "BuildProject"}},
            "Registry": {
                "Value": {
                    "Fn::Select": [
                        0,
                        {
                            "Fn::Split": [
                                "/",
                                {
                                    "Fn::GetAtt": [
                                        repositories[names[0] if names else images[0]],
                                        "RepositoryUri",
                                    ]
                                },
                            ]
                        },
                    ]
                },
                "Description": "r2o build --push --registry / r2o render batch --registry",
            },
        },
    }


def _shared_resources(
    component_repos: Sequence[str],
    all_repos: Sequence[str],
    names: Sequence[str],
    secret_roles: Sequence[str],
) -> dict[str, Any]:
    def repo_arns(ids: Sequence[str]) -> list[dict[str, Any]]:
        return [{"Fn::GetAtt": [rid, "Arn"]} for rid in ids]

    project = "${AWS::StackName}-build"
    job_roles = [{"Fn::GetAtt": [logical_id(n, "JobRole"), "Arn"]} for n in names]
    job_roles += [{"Fn::GetAtt": [role, "Arn"]} for role in secret_roles]
    return {
        "JobLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/r2o/${AWS::StackName}/jobs"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        "ExecutionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "Pulls the component images and writes the job logs.",
                "AssumeRolePolicyDocument": _trust("ecs-tasks.amazonaws.com"),
                "Policies": [_policy("pull-and-log", _pull_and_log(repo_arns(component_repos)))],
            },
        },
        "InstanceRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "The ECS agent on the compute environment's instances.",
                "AssumeRolePolicyDocument": _trust("ec2.amazonaws.com"),
                "Policies": [
                    _policy("ecs-agent", [{"Effect": "Allow", "Action": _INSTANCE_ACTIONS, "Resource": "*"}])
                ],
            },
        },
        "InstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {"Roles": [{"Ref": "InstanceRole"}]},
        },
        "ComputeEnvironment": {
            "Type": "AWS::Batch::ComputeEnvironment",
            "Properties": {
                "Type": "MANAGED",
                "State": "ENABLED",
                "ComputeResources": {
                    "Type": {"Fn::If": ["UseSpot", "SPOT", "EC2"]},
                    "AllocationStrategy": {
                        "Fn::If": ["UseSpot", "SPOT_PRICE_CAPACITY_OPTIMIZED", "BEST_FIT_PROGRESSIVE"]
                    },
                    "MinvCpus": 0,
                    "MaxvCpus": {"Ref": "MaxVcpus"},
                    "InstanceTypes": {"Ref": "InstanceTypes"},
                    "Subnets": {"Ref": "Subnets"},
                    "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
                    "InstanceRole": {"Fn::GetAtt": ["InstanceProfile", "Arn"]},
                    "Tags": {"r2o:stack": {"Ref": "AWS::StackName"}},
                },
            },
        },
        "JobQueue": {
            "Type": "AWS::Batch::JobQueue",
            "Properties": {
                "JobQueueName": {"Ref": "JobQueueName"},
                "State": "ENABLED",
                "Priority": 1,
                "ComputeEnvironmentOrder": [
                    {"Order": 1, "ComputeEnvironment": {"Ref": "ComputeEnvironment"}}
                ],
            },
        },
        "DataFileSystem": {
            "Type": "AWS::EFS::FileSystem",
            "Condition": "CreateEfs",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Encrypted": True,
                "PerformanceMode": "generalPurpose",
                "ThroughputMode": "elastic",
                "BackupPolicy": {"Status": "ENABLED"},
                "FileSystemPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": [
                                "elasticfilesystem:ClientMount",
                                "elasticfilesystem:ClientWrite",
                                "elasticfilesystem:ClientRootAccess",
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
                "FileSystemTags": [{"Key": "Name", "Value": {"Fn::Sub": "${AWS::StackName}-data"}}],
            },
        },
        "Fn::ForEach::MountTargets": [
            "SubnetId",
            {"Ref": "Subnets"},
            {
                "DataMountTarget&{SubnetId}": {
                    "Type": "AWS::EFS::MountTarget",
                    "Condition": "CreateEfs",
                    "Properties": {
                        "FileSystemId": {"Ref": "DataFileSystem"},
                        "SubnetId": {"Ref": "SubnetId"},
                        "SecurityGroups": {"Ref": "SecurityGroupIds"},
                    },
                }
            },
        ],
        "BuildLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/codebuild/{project}"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        "BuildRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "CodeBuild: build and push images, run the build graph, deploy definitions",
                "AssumeRolePolicyDocument": _trust("codebuild.amazonaws.com"),
                "Policies": [
                    _policy(
                        "build",
                        [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": [{"Fn::GetAtt": ["BuildLogGroup", "Arn"]}],
                            },
                            {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
                            {"Effect": "Allow", "Action": _ECR_PUSH, "Resource": repo_arns(all_repos)},
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "codebuild:StartBuild",
                                    "codebuild:StopBuild",
                                    "codebuild:RetryBuild",
                                    "codebuild:BatchGetBuilds",
                                ],
                                "Resource": [_arn("codebuild", f"project/{project}")],
                            },
                            {
                                "Effect": "Allow",
                                "Action": ["batch:DescribeJobDefinitions", "batch:DescribeJobQueues"],
                                "Resource": "*",
                            },
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "batch:RegisterJobDefinition",
                                    "batch:DeregisterJobDefinition",
                                    "batch:TagResource",
                                ],
                                "Resource": [_arn("batch", f"job-definition/{batch.DEFAULT_NAME_PREFIX}*")],
                            },
                            {
                                "Effect": "Allow",
                                "Action": ["iam:PassRole"],
                                "Resource": [{"Fn::GetAtt": ["ExecutionRole", "Arn"]}, *job_roles],
                                "Condition": {"StringEquals": {"iam:PassedToService": "batch.amazonaws.com"}},
                            },
                        ],
                    )
                ],
            },
        },
        "BuildProject": {
            "Type": "AWS::CodeBuild::Project",
            "Properties": {
                "Name": {"Fn::Sub": project},
                "Description": "r2o: builds the changed images (buildspec.yml batch build-graph).",
                "ServiceRole": {"Fn::GetAtt": ["BuildRole", "Arn"]},
                "Source": {
                    "Type": {"Ref": "SourceType"},
                    "Location": {"Ref": "SourceLocation"},
                    "BuildSpec": BUILDSPEC,
                },
                "Artifacts": {"Type": "NO_ARTIFACTS"},
                "Environment": {
                    "Type": "LINUX_CONTAINER",
                    "ComputeType": "BUILD_GENERAL1_MEDIUM",
                    "Image": CODEBUILD_IMAGE,
                    "PrivilegedMode": True,
                    "EnvironmentVariables": [
                        {
                            "Name": "R2O_REGISTRY",
                            "Value": {
                                "Fn::Select": [
                                    0,
                                    {"Fn::Split": ["/", {"Fn::GetAtt": [all_repos[0], "RepositoryUri"]}]},
                                ]
                            },
                        },
                        {"Name": "R2O_JOB_QUEUE", "Value": {"Ref": "JobQueueName"}},
                    ],
                },
                "BuildBatchConfig": {
                    "ServiceRole": {"Fn::GetAtt": ["BuildRole", "Arn"]},
                    "TimeoutInMins": 240,
                    "CombineArtifacts": False,
                    "Restrictions": {
                        "MaximumBuildsAllowed": 100,
                        "ComputeTypesAllowed": ["BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"],
                    },
                },
                "LogsConfig": {
                    "CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": "BuildLogGroup"}}
                },
                "TimeoutInMinutes": 120,
            },
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    """CloudFormation rejects YAML anchors/aliases, which PyYAML emits for objects used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(template: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(template), Dumper=_NoAliasDumper, sort_keys=False, width=120, default_flow_style=False
    )
