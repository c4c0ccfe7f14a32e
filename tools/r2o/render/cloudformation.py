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

How it is built: one function per AWS concern returns a :class:`Piece` (its resources, and the
parameters, conditions and outputs it brings), and :func:`compose` joins pieces into a template
(each section in piece order; a logical id defined twice is refused). A later stack extends the
template by adding pieces (``compose(description, [*r2o_pieces(catalog), *its_own])``), not by
copying this module. Pieces refer to each other by logical id (``Ref``/``Fn::GetAtt``), as any
template does; cfn-lint checks that every reference resolves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from r2o.errors import UsageError
from r2o.images.plan import ImageGraph
from r2o.manifest import SECRETS_MANAGER_ARN, Component, secret_resource
from r2o.names import logical_id
from r2o.render import batch
from r2o.render import codebuild as codebuild_spec
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


@dataclass(frozen=True)
class Piece:
    """What one AWS concern adds to the template, as data: each section's entries, in order."""

    resources: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    transforms: tuple[str, ...] = ()  # macros the resources need (Fn::ForEach: AWS::LanguageExtensions)


_SECTIONS = (
    ("Parameters", "parameters"),
    ("Conditions", "conditions"),
    ("Resources", "resources"),
    ("Outputs", "outputs"),
)


def compose(
    description: str, pieces: Sequence[Piece], *, listed: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """One template of ``pieces``: each section in piece order, except the names ``listed`` for a
    section ("Parameters", "Outputs"), which come first in that order. An empty section is left out."""
    listed = listed or {}
    template: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09"}
    transforms = list(dict.fromkeys(t for piece in pieces for t in piece.transforms))
    if transforms:
        template["Transform"] = transforms[0] if len(transforms) == 1 else transforms
    template["Description"] = description
    for section, attribute in _SECTIONS:
        merged: dict[str, Any] = {}
        for piece in pieces:
            for key, value in getattr(piece, attribute).items():
                if key in merged:
                    raise ValueError(f"two pieces of the template define {section}.{key}: rename one")
                merged[key] = value
        first = [key for key in listed.get(section, ()) if key in merged]
        ordered = {key: merged[key] for key in first} | {k: v for k, v in merged.items() if k not in first}
        if ordered:
            template[section] = ordered
    return template


@dataclass(frozen=True)
class Catalog:
    """What the pieces are made of: the repository's components and base images, their images and
    the logical ids of their ECR repositories."""

    components: Mapping[str, Component]  # by name, in name order
    images: tuple[str, ...]  # base image names, in name order
    graph: ImageGraph
    git_commit: str = "unknown"

    @property
    def names(self) -> list[str]:
        return list(self.components)

    @property
    def repositories(self) -> dict[str, str]:
        """Component, then base image name -> the logical id of its ECR repository."""
        return {name: logical_id(name, "Repository") for name in [*self.components, *self.images]}

    @property
    def secret_roles(self) -> list[str]:
        """The execution roles of the components with ``secrets:``."""
        return [logical_id(n, "ExecutionRole") for n, c in self.components.items() if c.secrets]

    @classmethod
    def of(cls, repo: Repository, git_commit: str = "unknown") -> Catalog:
        """Every component and base image of ``repo``, which must be valid."""
        loaded = repo.require_valid()
        names = sorted(loaded.components)
        images = sorted(loaded.images)
        ids = [logical_id(n) for n in names + images]
        if len(set(ids)) != len(ids):
            raise UsageError(
                "two image names map to the same CloudFormation id (they differ only in punctuation)",
                hint="rename one of them",
            )
        components = {n: loaded.components[n] for n in names}
        return cls(components, tuple(images), ImageGraph.from_repo(repo), git_commit)


DESCRIPTION = (
    "r2o: ECR repositories, AWS Batch job definitions, queue and compute environment, "
    "data root, IAM roles and the CodeBuild project (rendered by r2o render cloudformation; "
    "do not edit by hand)."
)
# The order a deployer reads parameters in (the console lists them in template order: where jobs
# run, on what, where data lives, the queue, the source) and outputs (what the r2o commands take).
LISTED = {
    "Parameters": (
        "Subnets",
        "SecurityGroupIds",
        "InstanceTypes",
        "MaxVcpus",
        "UseSpot",
        "DataBucket",
        "JobQueueName",
        "SourceType",
        "SourceLocation",
    ),
    "Outputs": (
        "JobQueueName",
        "JobLogGroupName",
        "ExecutionRoleArn",
        "DataFileSystemId",
        "BuildProjectName",
        "Registry",
    ),
}


def render(repo: Repository, *, git_commit: str = "unknown") -> dict[str, Any]:
    """The template as a dict (every component and base image of ``repo``, which must be valid)."""
    return compose(DESCRIPTION, r2o_pieces(Catalog.of(repo, git_commit)), listed=LISTED)


def r2o_pieces(catalog: Catalog) -> list[Piece]:
    """The pieces of r2o's own stack, in template order."""
    return [
        ecr_repositories(catalog),
        component_jobs(catalog),
        job_logs(),
        execution_role(catalog),
        compute_environment(),
        job_queue(),
        data_file_system(),
        codebuild(catalog),
    ]


# --- ECR ------------------------------------------------------------------------------------------


def ecr_repositories(catalog: Catalog) -> Piece:
    """An ECR repository per component and base image; the registry's address as an output."""
    repositories = catalog.repositories
    resources = {
        rid: {
            "Type": "AWS::ECR::Repository",
            "Properties": {
                "RepositoryName": name,
                "ImageTagMutability": "IMMUTABLE",
                "ImageScanningConfiguration": {"ScanOnPush": True},
                "EncryptionConfiguration": {"EncryptionType": "AES256"},
                "LifecyclePolicy": {"LifecyclePolicyText": lifecycle_policy()},
            },
        }
        for name, rid in repositories.items()
    }
    outputs = {
        "Registry": {
            "Value": _registry(next(iter(repositories.values()))),
            "Description": "r2o build --push --registry / r2o render batch --registry",
        }
    }
    return Piece(resources=resources, outputs=outputs)


def _registry(repository: str) -> dict[str, Any]:
    """The registry part of ``repository``'s URI (``<account>.dkr.ecr.<region>.amazonaws.com``)."""
    return {"Fn::Select": [0, {"Fn::Split": ["/", {"Fn::GetAtt": [repository, "RepositoryUri"]}]}]}


# --- Batch job definitions, with each component's access points and roles -------------------------


ACCESS_POINTS = {batch.INPUT_VOLUME: "InputAccessPoint", batch.OUTPUT_VOLUME: "OutputAccessPoint"}


def component_jobs(catalog: Catalog) -> Piece:
    """Per component: its EFS access points, its job role, its own execution role when it has
    ``secrets:``, and its job definition (``r2o render batch``'s payload in CloudFormation's names)."""
    options = batch.BatchOptions(
        registry=_PLACEHOLDER,
        # Split input/output layout (the template makes one access point for each); the volumes
        # themselves are replaced below.
        data=batch.DataVolume(efs_file_system_id=_PLACEHOLDER),
        job_role_arn=_PLACEHOLDER,
        execution_role_arn=_PLACEHOLDER,
        git_commit=catalog.git_commit,
    )
    repositories = catalog.repositories
    resources: dict[str, Any] = {}
    for name, component in catalog.components.items():
        node = catalog.graph.node(name)
        definition = batch.render_component(component, node.ref(_PLACEHOLDER), options)
        lid = logical_id(name)
        resources.update(_access_points(component))
        resources[f"{lid}JobRole"] = _job_role(component)
        execution = "ExecutionRole"
        if component.secrets:
            execution = f"{lid}ExecutionRole"
            resources[execution] = _secrets_execution_role(component, repositories[name])
        resources[f"{lid}JobDefinition"] = _job_definition(
            component, node.tag_only, definition, repositories[name], execution
        )
    return Piece(resources=resources)


def _access_points(component: Component) -> dict[str, Any]:
    """``/r2o/<component>/input`` and ``/output`` of the data file system, owned by the container user."""
    lid = logical_id(component.name)
    return {
        f"{lid}{suffix}": {
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
        for volume, suffix in ACCESS_POINTS.items()
    }


def _job_role(component: Component) -> dict[str, Any]:
    """What the containers of ``component`` may reach: its access points (EFS) or its prefixes (S3)."""
    lid = logical_id(component.name)

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
    if batch.writes_files(component):
        efs_statements.append(efs_statement(["elasticfilesystem:ClientWrite"], [batch.OUTPUT_VOLUME]))
    efs_policy = _policy(f"{component.name}-data", efs_statements)
    s3_statements = _s3_statements(component)
    s3_policy: Any = (
        _policy(f"{component.name}-data", s3_statements) if s3_statements else {"Ref": "AWS::NoValue"}
    )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": f"What the containers of {component.name} may reach: its own data, nothing else.",
            "AssumeRolePolicyDocument": _trust("ecs-tasks.amazonaws.com", this_account_only=True),
            "Policies": [{"Fn::If": ["CreateEfs", efs_policy, s3_policy]}],
        },
    }


def _job_definition(
    component: Component, tag: str, definition: batch.JobDefinition, repository: str, execution_role: str
) -> dict[str, Any]:
    """The rendered payload in CloudFormation's names, its image, roles, log group and data volumes
    from the stack (EFS access points, or scratch volumes that S3 staging fills)."""
    lid = logical_id(component.name)
    payload = definition.payload
    props = pascal({k: v for k, v in payload.items() if k != "tags"})
    props["Tags"] = {k: v for k, v in payload["tags"].items() if k != batch.TAG_DEFINITION_HASH}
    container = props["ContainerProperties"]
    container["Image"] = {"Fn::Sub": f"${{{repository}.RepositoryUri}}:{tag}"}
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
    return {"Type": "AWS::Batch::JobDefinition", "Properties": props}


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


# --- CloudWatch Logs and the shared execution role -------------------------------------------------


def job_logs() -> Piece:
    """The log group every job writes to (the awslogs driver)."""
    group = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": {"Fn::Sub": "/r2o/${AWS::StackName}/jobs"},
            "RetentionInDays": LOG_RETENTION_DAYS,
        },
    }
    return Piece(
        resources={"JobLogGroup": group}, outputs={"JobLogGroupName": {"Value": {"Ref": "JobLogGroup"}}}
    )


def execution_role(catalog: Catalog) -> Piece:
    """The role the ECS agent uses for jobs without secrets: pull the component images, write logs."""
    repositories = _arns([catalog.repositories[n] for n in catalog.names])
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Pulls the component images and writes the job logs.",
            "AssumeRolePolicyDocument": _trust("ecs-tasks.amazonaws.com"),
            "Policies": [_policy("pull-and-log", _pull_and_log(repositories))],
        },
    }
    return Piece(
        resources={"ExecutionRole": role},
        outputs={"ExecutionRoleArn": {"Value": {"Fn::GetAtt": ["ExecutionRole", "Arn"]}}},
    )


def _arns(ids: Sequence[str]) -> list[dict[str, Any]]:
    return [{"Fn::GetAtt": [rid, "Arn"]} for rid in ids]


# --- the network and the compute environment -------------------------------------------------------


def compute_environment() -> Piece:
    """A managed EC2 (Spot by default) compute environment in the given subnets, and its instances' role."""
    parameters = {
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
    }
    resources = {
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
    }
    conditions = {"UseSpot": {"Fn::Equals": [{"Ref": "UseSpot"}, "true"]}}
    return Piece(resources=resources, parameters=parameters, conditions=conditions)


# --- the job queue ---------------------------------------------------------------------------------


def job_queue() -> Piece:
    """The job queue (``r2o submit --queue``) in front of the compute environment."""
    parameters = {
        "JobQueueName": {
            "Type": "String",
            "Default": "r2o",
            "AllowedPattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
            "Description": "Name of the job queue (r2o submit --queue).",
        },
    }
    queue = {
        "Type": "AWS::Batch::JobQueue",
        "Properties": {
            "JobQueueName": {"Ref": "JobQueueName"},
            "State": "ENABLED",
            "Priority": 1,
            "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": {"Ref": "ComputeEnvironment"}}],
        },
    }
    outputs = {"JobQueueName": {"Value": {"Ref": "JobQueueName"}, "Description": "r2o submit --queue"}}
    return Piece(resources={"JobQueue": queue}, parameters=parameters, outputs=outputs)


# --- the data root: EFS (or an S3 bucket named by DataBucket) --------------------------------------


def data_file_system() -> Piece:
    """The EFS data root (encrypted, TLS only, backed up, kept when the stack goes) and a mount
    target in every subnet; none when ``DataBucket`` names an S3 bucket instead."""
    parameters = {
        "DataBucket": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "Description": "An S3 bucket as the data lake instead of an EFS file system "
            "(empty: create the EFS data root).",
        },
    }
    resources = {
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
    }
    outputs = {
        "DataFileSystemId": {
            "Condition": "CreateEfs",
            "Value": {"Ref": "DataFileSystem"},
            "Description": "r2o render batch --efs-file-system-id",
        }
    }
    return Piece(
        resources=resources,
        parameters=parameters,
        conditions={"CreateEfs": {"Fn::Equals": [{"Ref": "DataBucket"}, ""]}},
        outputs=outputs,
        transforms=("AWS::LanguageExtensions",),  # Fn::ForEach
    )


# --- CodeBuild ---------------------------------------------------------------------------------------


# What the planner build (buildspec.yml: `r2o ci plan`, then `r2o ci start-batch`) calls: start the
# planned batch build of its own project, ask how it goes, stop it when the planner is stopped.
PLANNER_ACTIONS = ["codebuild:StartBuildBatch", "codebuild:BatchGetBuildBatches", "codebuild:StopBuildBatch"]
# What CodeBuild does with a batch build's service role (BuildBatchConfig.ServiceRole): run its builds.
BATCH_SERVICE_ACTIONS = ["codebuild:StartBuild", "codebuild:StopBuild", "codebuild:RetryBuild"]


def codebuild(catalog: Catalog) -> Piece:
    """The project, its log group and two roles. The project runs buildspec.yml, the planner, as a
    plain build, and the builds it plans as one batch build (StartBuildBatch); its service role
    (every build's) pushes to the ECR repositories, registers the job definitions, passes their
    roles, and for the planner starts, watches and stops a batch of this project (PLANNER_ACTIONS).
    The batch service role (BuildBatchConfig) may only start, stop and retry this project's builds."""
    project = "${AWS::StackName}-build"
    repositories = list(catalog.repositories.values())
    job_roles = [{"Fn::GetAtt": [logical_id(n, "JobRole"), "Arn"]} for n in catalog.names]
    job_roles += [{"Fn::GetAtt": [role, "Arn"]} for role in catalog.secret_roles]
    parameters = {
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
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [{"Fn::GetAtt": ["BuildLogGroup", "Arn"]}],
        },
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Effect": "Allow", "Action": _ECR_PUSH, "Resource": _arns(repositories)},
        {
            # The planner (buildspec.yml, `r2o ci start-batch`): start the planned batch of this
            # project, wait for it, stop it when the planner is stopped. Nothing else of CodeBuild.
            "Effect": "Allow",
            "Action": PLANNER_ACTIONS,
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
    ]
    resources = {
        "BuildLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/codebuild/{project}"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        "BuildBatchRole": {
            # BuildBatchConfig.ServiceRole: CodeBuild itself uses it to run a batch's builds.
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "CodeBuild: start, stop and retry the builds of a planned batch build",
                "AssumeRolePolicyDocument": _trust("codebuild.amazonaws.com"),
                "Policies": [
                    _policy(
                        "batch",
                        [
                            {
                                "Effect": "Allow",
                                "Action": BATCH_SERVICE_ACTIONS,
                                "Resource": [_arn("codebuild", f"project/{project}")],
                            }
                        ],
                    )
                ],
            },
        },
        "BuildRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "CodeBuild: plan, start builds, build and push images, deploy definitions",
                "AssumeRolePolicyDocument": _trust("codebuild.amazonaws.com"),
                "Policies": [_policy("build", statements)],
            },
        },
        "BuildProject": {
            "Type": "AWS::CodeBuild::Project",
            "Properties": {
                "Name": {"Fn::Sub": project},
                "Description": "r2o: buildspec.yml plans a commit's builds, then starts them as one batch.",
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
                        {"Name": "R2O_REGISTRY", "Value": _registry(repositories[0])},
                        {"Name": "R2O_JOB_QUEUE", "Value": {"Ref": "JobQueueName"}},
                    ],
                },
                "BuildBatchConfig": {
                    "ServiceRole": {"Fn::GetAtt": ["BuildBatchRole", "Arn"]},
                    "TimeoutInMins": codebuild_spec.PROJECT_TIMEOUT_MINUTES,
                    "CombineArtifacts": False,
                    "Restrictions": {
                        "MaximumBuildsAllowed": 100,
                        "ComputeTypesAllowed": ["BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"],
                    },
                },
                "LogsConfig": {
                    "CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": "BuildLogGroup"}}
                },
                # The planner waits for the batch it starts: as long as the batch may run.
                "TimeoutInMinutes": codebuild_spec.PROJECT_TIMEOUT_MINUTES,
            },
        },
    }
    return Piece(
        resources=resources,
        parameters=parameters,
        outputs={"BuildProjectName": {"Value": {"Ref": "BuildProject"}}},
    )


class _NoAliasDumper(yaml.SafeDumper):
    """CloudFormation rejects YAML anchors/aliases, which PyYAML emits for objects used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(template: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(template), Dumper=_NoAliasDumper, sort_keys=False, width=120, default_flow_style=False
    )
