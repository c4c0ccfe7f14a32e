"""`r2o jobs`, `r2o job ID`, `r2o logs ID`, `r2o cancel ID`: AWS Batch jobs after submission."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from r2o.aws.states import STATUSES
from r2o.cli.context import err, out, print_json
from r2o.cli.options import aws_options, queue_option, target

if TYPE_CHECKING:
    pass


@click.command("jobs")
@queue_option
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only jobs with this status (repeatable; default: every status).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@aws_options
def jobs_command(
    queue: str, statuses: tuple[str, ...], as_json: bool, endpoint_url: str | None, region: str | None
) -> int:
    """List the jobs of a queue, oldest first."""
    from r2o.aws import jobs as batch_jobs

    client = target(endpoint_url, region).batch()
    summaries = batch_jobs.list_jobs(client, queue, statuses)
    if as_json:
        print_json([s.as_dict() for s in summaries])
        return 0
    if not summaries:
        err.print(
            f"r2o: no jobs in {queue}" + (f" with status {', '.join(statuses)}" if statuses else ""),
            markup=False,
        )
        return 0
    for s in summaries:
        code = "" if s.exit_code is None else f"exit {s.exit_code}"
        out.print(
            f"{s.job_id}  {s.name:30} {s.status:9} {code:8} {s.created or ''}  {s.reason}".rstrip(),
            markup=False,
        )
    return 0


@click.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@aws_options
def job_command(job_id: str, as_json: bool, endpoint_url: str | None, region: str | None) -> int:
    """Show one job: status, reason, exit code, attempts."""
    from r2o.aws import jobs as batch_jobs

    detail = batch_jobs.describe(target(endpoint_url, region).batch(), job_id)
    if as_json:
        print_json(detail.as_dict())
        return 0
    s = detail.summary
    rows = [
        ("job", f"{s.name} ({s.job_id})"),
        ("status", s.status),
        ("reason", s.reason),
        ("exit code", "" if s.exit_code is None else str(s.exit_code)),
        ("queue", detail.queue),
        ("definition", detail.definition),
        ("parameters", " ".join(f"{k}={v}" for k, v in sorted(detail.parameters.items()))),
        ("depends on", " ".join(detail.depends_on)),
        ("created", s.created or ""),
        ("started", s.started or ""),
        ("stopped", s.stopped or ""),
        ("log stream", f"{detail.log_group}/{detail.log_stream}" if detail.log_stream else ""),
        ("attempts", str(len(detail.attempts))),
    ]
    if detail.array_status:
        rows.append(("children", " ".join(f"{k}={v}" for k, v in detail.array_status.items() if v)))
    for key, value in rows:
        if value:
            out.print(f"{key:11} {value}", markup=False)
    for i, attempt in enumerate(detail.attempts, 1):
        code = "" if attempt.exit_code is None else f"exit {attempt.exit_code} "
        out.print(
            f"  attempt {i}: {code}{attempt.reason} {attempt.started or ''}-{attempt.stopped or ''}".rstrip(),
            markup=False,
        )
    return 0


@click.command("logs")
@click.argument("job_id")
@aws_options
def logs_command(job_id: str, endpoint_url: str | None, region: str | None) -> int:
    """Print a job's output from CloudWatch Logs."""
    from r2o.aws import jobs as batch_jobs

    aws = target(endpoint_url, region)
    detail = batch_jobs.describe(aws.batch(), job_id)
    for line in batch_jobs.log_lines(aws.logs(), detail):
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0


@click.command("cancel")
@click.argument("job_id")
@click.option(
    "--reason", default="cancelled with r2o cancel", show_default=True, help="Reason recorded on the job."
)
@aws_options
def cancel_command(job_id: str, reason: str, endpoint_url: str | None, region: str | None) -> int:
    """Cancel a job that has not started, or terminate a running one."""
    from r2o.aws import jobs as batch_jobs

    action = batch_jobs.cancel(target(endpoint_url, region).batch(), job_id, reason)
    err.print(f"r2o: {action} {job_id}", markup=False)
    return 0
