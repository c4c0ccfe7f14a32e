"""Entry point: the `r2o` group, global options, and the one top-level error handler."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from r2o import __version__
from r2o.cli import (
    build,
    compare,
    golden,
    images,
    listing,
    new,
    render,
    render_batch,
    render_cloudformation,
    render_codebuild,
    run,
    show,
    test,
    validate,
)
from r2o.cli import changed as changed_cli
from r2o.cli import ci as ci_cli
from r2o.cli import deploy as deploy_cli
from r2o.cli import jobs as jobs_cli
from r2o.cli import pipeline as pipeline_cli
from r2o.cli import submit as submit_cli
from r2o.cli.context import State, err
from r2o.errors import R2OError, UsageError

INTERNAL_ERROR = 70  # EX_SOFTWARE


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Repository root (default: found from the current directory upward).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="r2o")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, debug: bool) -> None:
    """r2o: carry scientific components from research to operations.

    Validate manifests, build content-addressed images, run components as AWS Batch would,
    and check outputs against golden files.
    """
    ctx.obj = State(repo_option=repo, debug=debug)


# Commands, in the order `r2o --help` lists them. Render subcommands register on the render group.
COMMANDS: tuple[click.Command, ...] = (
    listing.command,
    validate.command,
    show.command,
    new.command,
    images.command,
    build.command,
    run.command,
    golden.command,
    test.command,
    compare.compare,
    changed_cli.command,
    render.command,
    ci_cli.command,
    deploy_cli.command,
    submit_cli.command,
    jobs_cli.jobs_command,
    jobs_cli.job_command,
    jobs_cli.logs_command,
    jobs_cli.cancel_command,
    pipeline_cli.command,
)
RENDER_COMMANDS: tuple[click.Command, ...] = (
    render_batch.command,
    render_cloudformation.command,
    render_codebuild.command,
)

for command in COMMANDS:
    cli.add_command(command)
render.register(*RENDER_COMMANDS)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every outcome to an exit code; tracebacks only with --debug."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="r2o", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        err.print("r2o: aborted")
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = UsageError.exit_code
    except R2OError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"r2o: error: {exc}", markup=False)
        code = exc.exit_code
    except KeyboardInterrupt:
        err.print("r2o: interrupted")
        code = 130
    except Exception as exc:  # a bug in r2o itself: say so plainly
        if debug:
            traceback.print_exc()
        err.print(
            f"r2o: internal error: {type(exc).__name__}: {exc}\n"
            "  -> rerun with --debug and report the traceback",
            markup=False,
        )
        code = INTERNAL_ERROR
    sys.exit(code if isinstance(code, int) else 0)
