"""`r2o render batch`: one RegisterJobDefinition payload per component, checked, then written as JSON."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import click

from r2o.cli.context import REGISTRY, State, err, pass_state, print_json
from r2o.errors import UsageError
from r2o.render import batch
from r2o.repo import Repository
from r2o.run.plan import parse_assignments

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class BatchArgs:
    """The values of the :func:`batch_options`, handed to a command as one ``batch_args`` argument."""

    registry: str | None
    efs_file_system_id: str | None
    efs_access_point_id: str | None
    data_host_path: str | None
    job_role_arn: str | None
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
    return batch.BatchOptions(
        registry=registry,
        data=batch.DataVolume(
            efs_file_system_id=args.efs_file_system_id,
            efs_access_point_id=args.efs_access_point_id,
            host_path=args.data_host_path,
        ),
        job_role_arn=args.job_role_arn,
        execution_role_arn=args.execution_role_arn,
        log_group=args.log_group,
        name_prefix=args.name_prefix,
        platform=args.platform,
        git_commit=batch.head_commit(repo.root),
        extra_tags=parse_assignments(args.tags, "--tag"),
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
    batch_args: BatchArgs,
    out: Path | None,
    as_json: bool,
) -> int:
    """Write one AWS Batch job definition per component NAME (all when none), checked with botocore."""
    repo = state.repo
    definitions = rendered(repo, names, make_options(repo, batch_args))
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
