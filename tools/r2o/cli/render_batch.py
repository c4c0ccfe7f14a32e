"""`r2o render batch`: one RegisterJobDefinition payload per component, checked, then written as JSON."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from r2o.cli.context import State, err, pass_state, print_json
from r2o.errors import UsageError
from r2o.render import batch
from r2o.repo import Repository
from r2o.run.plan import parse_assignments

F = TypeVar("F", bound=Callable[..., Any])


def batch_options(func: F) -> F:
    """The render options shared by `r2o render batch` and `r2o deploy` (each with an R2O_* variable)."""
    decorators = [
        click.option(
            "--registry",
            envvar="R2O_REGISTRY",
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
            help="EFS access point for /data (default: the directory /r2o/NAME of the file system).",
        ),
        click.option(
            "--data-host-path",
            default=None,
            metavar="PATH",
            help="Instead of EFS: a host directory mounted at /data (EC2 hosts that mount it at boot).",
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
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def make_options(
    repo: Repository,
    *,
    registry: str | None,
    efs_file_system_id: str | None,
    efs_access_point_id: str | None,
    data_host_path: str | None,
    job_role_arn: str | None,
    execution_role_arn: str | None,
    log_group: str,
    platform: str | None,
    name_prefix: str,
    tags: Sequence[str],
) -> batch.BatchOptions:
    if not registry:
        raise UsageError(
            "no image registry given",
            hint="pass --registry URI (or set R2O_REGISTRY) where `r2o build --push` pushed the images",
        )
    if "://" in registry:
        raise UsageError(
            f"--registry '{registry}' must be a registry address without a scheme (HOST[:PORT][/PATH])"
        )
    return batch.BatchOptions(
        registry=registry,
        data=batch.DataVolume(
            efs_file_system_id=efs_file_system_id,
            efs_access_point_id=efs_access_point_id,
            host_path=data_host_path,
        ),
        job_role_arn=job_role_arn,
        execution_role_arn=execution_role_arn,
        log_group=log_group,
        name_prefix=name_prefix,
        platform=platform,
        git_commit=batch.head_commit(repo.root),
        extra_tags=parse_assignments(tuple(tags), "--tag"),
    )


def rendered(
    repo: Repository, names: Sequence[str], options: batch.BatchOptions
) -> list[batch.JobDefinition]:
    """Render and check; raises before anything is written or sent."""
    from r2o.aws import validate  # botocore's model: loaded only by the commands that check payloads

    definitions = batch.render_all(repo, names, options)
    validate.check(definitions)
    return definitions


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("batch")
@click.argument("names", nargs=-1)
@batch_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the JSON files (default: .r2o/batch in the repository).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the definitions as JSON too.")
@pass_state
def command(
    state: State,
    names: tuple[str, ...],
    registry: str | None,
    efs_file_system_id: str | None,
    efs_access_point_id: str | None,
    data_host_path: str | None,
    job_role_arn: str | None,
    execution_role_arn: str | None,
    log_group: str,
    platform: str | None,
    name_prefix: str,
    tags: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> int:
    """Write one AWS Batch job definition per component NAME (all when none), checked with botocore."""
    repo = state.repo
    options = make_options(
        repo,
        registry=registry,
        efs_file_system_id=efs_file_system_id,
        efs_access_point_id=efs_access_point_id,
        data_host_path=data_host_path,
        job_role_arn=job_role_arn,
        execution_role_arn=execution_role_arn,
        log_group=log_group,
        platform=platform,
        name_prefix=name_prefix,
        tags=tags,
    )
    definitions = rendered(repo, names, options)
    out_dir = out if out is not None else repo.root / ".r2o" / "batch"
    out_dir.mkdir(parents=True, exist_ok=True)
    for definition in definitions:
        write_atomically(out_dir / definition.filename, definition.to_json())
    if as_json:
        print_json(
            [
                {
                    "component": d.component,
                    "jobDefinitionName": d.name,
                    "file": str(out_dir / d.filename),
                    "image": d.payload["containerProperties"]["image"],
                    "payload": d.payload,
                }
                for d in definitions
            ]
        )
    err.print(
        f"r2o: wrote {len(definitions)} job definition{'s' if len(definitions) != 1 else ''} to {out_dir}",
        markup=False,
    )
    return 0
