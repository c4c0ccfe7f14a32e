"""AWS Batch job definitions (RegisterJobDefinition payloads) rendered from component manifests.

One payload per component, pure data: no AWS call, no Docker. The payload mirrors a local
``r2o run`` (same /data paths, inputs read-only, read-only root, tmpfs /tmp, uid 1000, init
process, a process limit), so a component that runs locally runs on Batch. Checking the payload
against botocore's model lives in ``r2o.aws.validate`` (render/ does not depend on AWS libraries).

Data: /data/input and /data/output are two volumes of the data root (``<root>/input`` mounted
read-only, ``<root>/output`` writable when the component writes files), so a component can never
change its own inputs. A single EFS access point given with ``--efs-access-point-id`` fixes one
directory; then the data root is one volume at /data (read-only when nothing is written), as
the layout cannot be split.

S3 data mode (``--data-s3-bucket``): no shared file system. /data/input and /data/output are
task-local scratch volumes (Batch assigns their host path, on EC2 and Fargate alike), and the
container runs ``r2o-stage`` (in every image, from python-sci) as root: it downloads the job's
declared inputs from the bucket into /data/input, runs the component as uid 1000 and uploads its
outputs after success (see ``base-images/python-sci/r2o-stage``). The stager's command is set per
job (``r2o.pipeline.batch``); each component's job role (``--component-job-role``) may read only its
inputs' prefixes and write only its own step's.

Storage (``resources.storage_mib``): on Fargate a value above the 20 GiB default becomes
``ephemeralStorage`` (whole GiB, 21-200): the task's local disk, which holds /tmp's scratch volume
and anything staged locally; an EFS data root is not part of it and has no per-job cap. AWS Batch
on EC2 has no per-job storage setting: containers share the instance's Docker storage, whose size
is the compute environment's (launch template's) root or data volume; size that for the largest
``storage_mib`` times the jobs an instance runs at once.

The payload carries a ``r2o:definition-sha256`` tag: a hash of everything else in it. ``r2o deploy``
compares that tag with the newest ACTIVE revision to decide whether a new revision is needed, so
defaults AWS adds to a described definition never cause a spurious revision.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from r2o import names
from r2o.errors import UsageError
from r2o.images.plan import ImageGraph
from r2o.manifest import (
    DEFAULT_PIDS_LIMIT,
    DEFAULT_STORAGE_MIB,
    INPUT_ROOT,
    OUTPUT_ROOT,
    TMPFS_MIB,
    Component,
    Parameter,
)
from r2o.repo import Repository

DATA_ROOT = PurePosixPath("/data")
DATA_VOLUME = "data"  # the whole data root at /data (a single access point)
INPUT_VOLUME = "input"  # <root>/input at /data/input, read-only
OUTPUT_VOLUME = "output"  # <root>/output at /data/output
DATA_VOLUMES = (DATA_VOLUME, INPUT_VOLUME, OUTPUT_VOLUME)
STAGER = "r2o-stage"  # /usr/local/bin/r2o-stage of the python-sci image
# S3 data mode: r2o-stage starts as root to own the inputs and drops to CONTAINER_USER itself.
STAGER_USER = "0:0"
TMP_VOLUME = "tmp"
DEFAULT_NAME_PREFIX = names.DEFINITION_PREFIX
DEFAULT_LOG_GROUP = "/aws/batch/job"
LOG_STREAM_PREFIX = "r2o"
# The directory of the data file system a component sees as /data (inputs under input/, outputs
# under output/): the same layout as a local run, one subtree per component.
EFS_COMPONENT_ROOT = "/r2o/{component}"
# Spot reclaim shows up as a status reason starting "Host EC2 (instance i-...) terminated.":
# retry those; any other failure is the component's own and retrying would only repeat it.
SPOT_RECLAIM = "Host EC2*"
TAG_COMPONENT = "r2o:component"
TAG_VERSION = "r2o:version"
TAG_CONTENT_TAG = "r2o:content-tag"
TAG_GIT_COMMIT = "r2o:git-commit"
TAG_DEFINITION_HASH = "r2o:definition-sha256"
# The container user of every component (the local Docker backend runs as the same uid:gid).
CONTAINER_USER = "1000:1000"
EC2 = "EC2"
FARGATE = "FARGATE"
# Fargate's ephemeral storage: 20 GiB unless the job definition asks for 21-200 GiB.
FARGATE_STORAGE_GIB = (21, 200)


@dataclass(frozen=True)
class DataVolume:
    """Where /data comes from: an EFS file system (Batch), a host directory (EC2 hosts, tests), or an
    S3 bucket the jobs stage through (S3 data mode)."""

    efs_file_system_id: str | None = None
    efs_access_point_id: str | None = None
    host_path: str | None = None
    s3_bucket: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.efs_file_system_id, self.host_path, self.s3_bucket) if v is not None]
        if len(given) != 1:
            raise UsageError(
                "give the data root as exactly one of --efs-file-system-id, --data-host-path or "
                "--data-s3-bucket",
                hint="on AWS Batch the data root is an EFS file system (--efs-file-system-id fs-...) "
                "or an S3 bucket the jobs stage through (--data-s3-bucket BUCKET)",
            )
        if self.efs_access_point_id is not None and self.efs_file_system_id is None:
            raise UsageError("--efs-access-point-id needs --efs-file-system-id")


@dataclass(frozen=True)
class BatchOptions:
    """What the manifests do not say: where images live, which roles, which data root."""

    registry: str
    data: DataVolume
    job_role_arn: str | None = None
    execution_role_arn: str | None = None
    log_group: str = DEFAULT_LOG_GROUP
    name_prefix: str = DEFAULT_NAME_PREFIX
    platform: str | None = None  # force EC2 or FARGATE; default: EC2 when the manifest allows it
    git_commit: str = "unknown"
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    component_job_roles: Mapping[str, str] = field(default_factory=dict)  # component -> job role ARN

    def job_role_for(self, component: str) -> str | None:
        return self.component_job_roles.get(component, self.job_role_arn)


@dataclass(frozen=True)
class JobDefinition:
    """One rendered RegisterJobDefinition request."""

    component: str
    manifest_path: Path
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.payload["jobDefinitionName"])

    @property
    def filename(self) -> str:
        return f"{self.name}.json"

    @property
    def definition_hash(self) -> str:
        return str(self.payload["tags"][TAG_DEFINITION_HASH])

    def to_json(self) -> str:
        return json.dumps(self.payload, indent=2, sort_keys=False) + "\n"


def definition_name(component: str, prefix: str = DEFAULT_NAME_PREFIX) -> str:
    return f"{prefix}{component}"


def platform_for(component: Component, forced: str | None = None) -> str:
    if forced is not None:
        return forced
    return EC2 if EC2 in component.resources.platforms else component.resources.platforms[0]


def parameter_defaults(component: Component) -> dict[str, str]:
    """Batch ``parameters``: string defaults; a parameter without a default gets none (submit must set it)."""
    return {
        name: Parameter.format(p.default)
        for name, p in sorted(component.parameters.items())
        if p.default is not None
    }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def resource_requirements(component: Component) -> list[dict[str, str]]:
    res = component.resources
    out = [{"type": "VCPU", "value": _number(res.vcpus)}, {"type": "MEMORY", "value": str(res.memory_mib)}]
    if res.gpus:
        out.append({"type": "GPU", "value": str(res.gpus)})
    return out


def retry_strategy(component: Component) -> dict[str, Any]:
    return {
        "attempts": component.resources.retries,
        "evaluateOnExit": [
            {"onStatusReason": SPOT_RECLAIM, "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"},
        ],
    }


def data_volumes(component: Component, data: DataVolume) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The data root's volumes and mount points: inputs read-only, outputs writable if written."""
    writes = writes_files(component)
    if data.s3_bucket is not None:
        # task-local scratch volumes (no host path: Batch assigns one); r2o-stage, root, fills the
        # input volume and hands the component (uid 1000) read-only files
        scratch: list[dict[str, Any]] = [{"name": INPUT_VOLUME}, {"name": OUTPUT_VOLUME}]
        mounts = [
            {"sourceVolume": INPUT_VOLUME, "containerPath": INPUT_ROOT.as_posix(), "readOnly": False},
            {"sourceVolume": OUTPUT_VOLUME, "containerPath": OUTPUT_ROOT.as_posix(), "readOnly": False},
        ]
        return scratch, mounts
    if data.efs_access_point_id is not None:
        # The access point fixes one directory (rootDirectory must then be "/", so it is left out):
        # the layout cannot be split, and /data is writable as a whole when outputs are written.
        efs: dict[str, Any] = {
            "fileSystemId": data.efs_file_system_id,
            "transitEncryption": "ENABLED",
            "authorizationConfig": {"accessPointId": data.efs_access_point_id, "iam": "ENABLED"},
        }
        volumes = [{"name": DATA_VOLUME, "efsVolumeConfiguration": efs}]
        mounts = [
            {"sourceVolume": DATA_VOLUME, "containerPath": DATA_ROOT.as_posix(), "readOnly": not writes}
        ]
        return volumes, mounts
    volumes = []
    for name in (INPUT_VOLUME, OUTPUT_VOLUME):
        if data.host_path is not None:
            volumes.append({"name": name, "host": {"sourcePath": f"{data.host_path.rstrip('/')}/{name}"}})
        else:
            root = EFS_COMPONENT_ROOT.format(component=component.name)
            efs = {
                "fileSystemId": data.efs_file_system_id,
                "rootDirectory": f"{root}/{name}",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"iam": "ENABLED"},
            }
            volumes.append({"name": name, "efsVolumeConfiguration": efs})
    mounts = [
        {"sourceVolume": INPUT_VOLUME, "containerPath": INPUT_ROOT.as_posix(), "readOnly": True},
        # A component that writes no file needs no write access (stdout goes to the logs).
        {"sourceVolume": OUTPUT_VOLUME, "containerPath": OUTPUT_ROOT.as_posix(), "readOnly": not writes},
    ]
    return volumes, mounts


def secrets_for(component: Component) -> list[dict[str, str]]:
    """The job definition's ``secrets``: ARNs only; the ECS agent resolves them at container start."""
    return [{"name": name, "valueFrom": arn} for name, arn in sorted(component.secrets.items())]


def ephemeral_storage_gib(component: Component) -> int | None:
    """Fargate ``ephemeralStorage.sizeInGiB`` for ``storage_mib``, or None when the default suffices."""
    mib = component.resources.storage_mib
    if mib <= DEFAULT_STORAGE_MIB:
        return None
    low, high = FARGATE_STORAGE_GIB
    return min(high, max(low, math.ceil(mib / 1024)))


def tags_for(component: Component, content_tag: str, options: BatchOptions) -> dict[str, str]:
    tags = dict(options.extra_tags)
    tags.update(
        {
            TAG_COMPONENT: component.name,
            TAG_VERSION: component.version,
            TAG_CONTENT_TAG: content_tag,
            TAG_GIT_COMMIT: options.git_commit,
        }
    )
    return tags


def writes_files(component: Component) -> bool:
    return any(not o.is_stdout for o in component.outputs)


def render_component(component: Component, image: str, options: BatchOptions) -> JobDefinition:
    """The RegisterJobDefinition request for ``component`` running ``image`` (``registry/name:tag``)."""
    platform = platform_for(component, options.platform)
    content_tag = image.rsplit(":", 1)[-1]
    volumes, mount_points = data_volumes(component, options.data)
    linux: dict[str, Any] = {"initProcessEnabled": True}
    if platform == FARGATE:
        # Fargate has no tmpfs: /tmp is a task-local scratch volume instead (Docker assigns the path).
        volumes.append({"name": TMP_VOLUME})
        mount_points.append({"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False})
    else:
        linux["tmpfs"] = [
            {"containerPath": "/tmp", "size": TMPFS_MIB, "mountOptions": ["rw", "nosuid", "nodev"]}
        ]
    container: dict[str, Any] = {
        "image": image,
        "command": list(component.command),
        "resourceRequirements": resource_requirements(component),
        "environment": [{"name": k, "value": v} for k, v in sorted(component.environment.items())],
        "volumes": volumes,
        "mountPoints": mount_points,
        "readonlyRootFilesystem": True,
        "user": STAGER_USER if options.data.s3_bucket is not None else CONTAINER_USER,
        "linuxParameters": linux,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": options.log_group, "awslogs-stream-prefix": LOG_STREAM_PREFIX},
        },
    }
    if component.secrets:
        container["secrets"] = secrets_for(component)
    role = options.job_role_for(component.name)
    if role:
        container["jobRoleArn"] = role
    if options.execution_role_arn:
        container["executionRoleArn"] = options.execution_role_arn
    if platform == FARGATE:
        container["fargatePlatformConfiguration"] = {"platformVersion": "LATEST"}
        container["networkConfiguration"] = {"assignPublicIp": "DISABLED"}
        size = ephemeral_storage_gib(component)
        if size is not None:
            container["ephemeralStorage"] = {"sizeInGiB": size}
    else:
        # The process limit of a local run (docker --pids-limit). Batch has no per-container pids
        # cgroup setting, and Fargate takes no ulimits but nofile, so EC2 gets RLIMIT_NPROC. Unlike
        # --pids-limit it counts every process and thread of uid 1000 on the instance, so jobs
        # packed onto one instance share it.
        container["ulimits"] = [
            {"name": "nproc", "softLimit": DEFAULT_PIDS_LIMIT, "hardLimit": DEFAULT_PIDS_LIMIT}
        ]
    payload: dict[str, Any] = {
        "jobDefinitionName": definition_name(component.name, options.name_prefix),
        "type": "container",
        "platformCapabilities": [platform],
        "parameters": parameter_defaults(component),
        "containerProperties": container,
        "retryStrategy": retry_strategy(component),
        "timeout": {"attemptDurationSeconds": component.resources.timeout_s},
        "tags": tags_for(component, content_tag, options),
        "propagateTags": True,
    }
    payload["tags"][TAG_DEFINITION_HASH] = payload_hash(payload)
    return JobDefinition(component.name, component.manifest_path, payload)


def payload_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of the payload in canonical JSON, leaving out the hash tag itself and the git commit.

    The commit is provenance, not behaviour: a commit that changes nothing a job runs must not make a
    new revision (the registered revision keeps the commit that last changed it).
    """
    body = dict(payload)
    body["tags"] = {
        k: v for k, v in payload.get("tags", {}).items() if k not in (TAG_DEFINITION_HASH, TAG_GIT_COMMIT)
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def render_all(repo: Repository, names: Sequence[str], options: BatchOptions) -> list[JobDefinition]:
    """Job definitions for ``names`` (every component when empty), in name order. Nothing is checked here."""
    graph = ImageGraph.from_repo(repo)
    components = [repo.component(n) for n in names] if names else list(repo.components.values())
    out = []
    for component in sorted(components, key=lambda c: c.name):
        definition = render_component(component, graph.ref(component.name, options.registry), options)
        out.append(dataclasses.replace(definition, manifest_path=repo.rel(component.manifest_path)))
    return out
