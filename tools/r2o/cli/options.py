"""Options several commands share (AWS Batch rendering, AWS targets, the job queue), and the
conversion of their values into the library's types. Command modules import these, never each other."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

import click

from r2o import git
from r2o.cli.context import REGISTRY
from r2o.errors import UsageError, did_you_mean
from r2o.render import batch
from r2o.repo import Repository
from r2o.run.plan import parse_assignments

if TYPE_CHECKING:
    from r2o.aws.session import AwsTarget

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_QUEUE = "r2o"


@dataclass(frozen=True)
class BatchArgs:
    """The values of the :func:`batch_options`, handed to a command as one ``batch_args`` argument."""

    registry: str | None
    efs_file_system_id: str | None
    efs_access_point_id: str | None
    data_host_path: str | None
    data_s3_bucket: str | None
    job_role_arn: str | None
    component_job_roles: tuple[str, ...]
    execution_role_arn: str | None
    log_group: str
    platform: str | None
    name_prefix: str
    tags: tuple[str, ...]


def batch_options(func: F) -> F:
    """The render options shared by `r2o render batch`, `r2o deploy` and `r2o pipeline render/submit`
    (several with an R2O_* variable); the command receives them as ``batch_args: BatchArgs``."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        values = {f.name: kwargs.pop(f.name) for f in fields(BatchArgs)}
        return func(*args, batch_args=BatchArgs(**values), **kwargs)

    decorators = [
        click.option(
            "--registry",
            envvar="R2O_REGISTRY",
            type=REGISTRY,
            default=None,
            metavar="URI",
            help="Image registry the images were pushed to, e.g. your ECR registry (env R2O_REGISTRY).",
        ),
        click.option(
            "--efs-file-system-id",
            envvar="R2O_EFS_FILE_SYSTEM_ID",
            default=None,
            metavar="FS",
            help="EFS file system mounted at /data (env R2O_EFS_FILE_SYSTEM_ID).",
        ),
        click.option(
            "--efs-access-point-id",
            envvar="R2O_EFS_ACCESS_POINT_ID",
            default=None,
            metavar="FSAP",
            help=(
                "One EFS access point for all of /data (inputs then cannot be read-only); "
                "default: the access points /r2o/NAME/input and /r2o/NAME/output."
            ),
        ),
        click.option(
            "--data-host-path",
            default=None,
            metavar="PATH",
            help=(
                "Instead of EFS: a host directory whose input/ and output/ are mounted at /data/input "
                "(read-only) and /data/output (EC2 hosts that mount it at boot)."
            ),
        ),
        click.option(
            "--data-s3-bucket",
            envvar="R2O_DATA_S3_BUCKET",
            default=None,
            metavar="BUCKET",
            help=(
                "Instead of EFS: S3 data mode. Each job stages its inputs from BUCKET into scratch "
                "/data/input and uploads its outputs after success (r2o-stage; env R2O_DATA_S3_BUCKET)."
            ),
        ),
        click.option(
            "--component-job-role",
            "component_job_roles",
            multiple=True,
            metavar="COMPONENT=ARN",
            help="The job role of one component (repeatable; S3 data mode: its prefixes only).",
        ),
        click.option(
            "--job-role-arn",
            envvar="R2O_JOB_ROLE_ARN",
            default=None,
            metavar="ARN",
            help="IAM role the job's containers assume (env R2O_JOB_ROLE_ARN).",
        ),
        click.option(
            "--execution-role-arn",
            envvar="R2O_EXECUTION_ROLE_ARN",
            default=None,
            metavar="ARN",
            help="IAM role that pulls the image and writes logs (required on FARGATE).",
        ),
        click.option(
            "--log-group",
            default=batch.DEFAULT_LOG_GROUP,
            show_default=True,
            help="CloudWatch Logs group of the awslogs driver.",
        ),
        click.option(
            "--platform",
            type=click.Choice([batch.EC2, batch.FARGATE]),
            default=None,
            help="Force a platform (default: EC2 when the manifest allows it).",
        ),
        click.option(
            "--name-prefix",
            default=batch.DEFAULT_NAME_PREFIX,
            show_default=True,
            help="Prefix of every job definition name.",
        ),
        click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="KEY=VALUE",
            help="An extra tag on every definition (repeatable).",
        ),
    ]
    wrapped: Any = command
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    decorated: F = wrapped
    return decorated


def make_options(repo: Repository, args: BatchArgs) -> batch.BatchOptions:
    """The render options the flags describe; a missing registry is a usage error."""
    registry = args.registry
    if not registry:
        raise UsageError(
            "no image registry given",
            hint="pass --registry URI (or set R2O_REGISTRY) where `r2o build --push` pushed the images",
        )
    if "://" in registry:
        raise UsageError(
            f"--registry '{registry}' must be a registry address without a scheme (HOST[:PORT][/PATH])"
        )
    roles = parse_assignments(args.component_job_roles, "--component-job-role")
    for component in roles:
        if component not in repo.components:
            raise UsageError(
                f"--component-job-role {component}=...: no component named {component!r}",
                hint=did_you_mean(component, repo.components) or "name a folder of components/",
            )
    return batch.BatchOptions(
        registry=registry,
        data=batch.DataVolume(
            efs_file_system_id=args.efs_file_system_id,
            efs_access_point_id=args.efs_access_point_id,
            host_path=args.data_host_path,
            s3_bucket=args.data_s3_bucket,
        ),
        job_role_arn=args.job_role_arn,
        component_job_roles=roles,
        execution_role_arn=args.execution_role_arn,
        log_group=args.log_group,
        name_prefix=args.name_prefix,
        platform=args.platform,
        git_commit=git.head_commit(repo.root),
        extra_tags=parse_assignments(args.tags, "--tag"),
    )


def aws_options(func: F) -> F:
    """--endpoint-url and --region, shared by every command that calls AWS."""
    func = click.option(
        "--region",
        envvar="AWS_REGION",
        default=None,
        help="AWS region (default: the standard chain: AWS_REGION, the profile).",
    )(func)
    func = click.option(
        "--endpoint-url",
        envvar="R2O_AWS_ENDPOINT_URL",
        default=None,
        metavar="URL",
        help="Send AWS calls to URL (a moto server when testing; env R2O_AWS_ENDPOINT_URL).",
    )(func)
    return func


def target(endpoint_url: str | None, region: str | None) -> AwsTarget:
    """Where AWS calls go. boto3 is imported here, not at startup: it costs every other command ~0.5 s."""
    from r2o.aws.session import AwsTarget

    return AwsTarget.from_env(endpoint_url, region)


def queue_option(func: F) -> F:
    return click.option(
        "--queue",
        envvar="R2O_JOB_QUEUE",
        default=DEFAULT_QUEUE,
        show_default=True,
        help="AWS Batch job queue (env R2O_JOB_QUEUE).",
    )(func)
