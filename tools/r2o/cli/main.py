"""Entry point: the `r2o` group, global options, and the one top-level error handler."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from r2o import __version__
from r2o.cli.context import State, err
from r2o.cli.lazy import LazyGroup
from r2o.errors import R2OError, Stopped, UsageError

INTERNAL_ERROR = 70  # EX_SOFTWARE


# Commands, as "module:attribute" under r2o.cli; each is imported only when it runs (or for --help),
# so `r2o compare` does not pay for Docker, boto3 or jinja2.
COMMANDS = {
    "list": "listing:command",
    "validate": "validate:command",
    "show": "show:command",
    "new": "new:command",
    "images": "images:command",
    "build": "build:command",
    "run": "run:command",
    "golden": "golden:command",
    "test": "test:command",
    "compare": "compare:compare",
    "changed": "changed:command",
    "render": "render:command",
    "ci": "ci:command",
    "deploy": "deploy:command",
    "submit": "submit:command",
    "jobs": "jobs:jobs_command",
    "job": "jobs:job_command",
    "logs": "jobs:logs_command",
    "cancel": "jobs:cancel_command",
    "pipeline": "pipeline:command",
    "serve": "serve:command",
    "export": "export:command",
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP stop r2o as Ctrl-C does: every cleanup path runs (containers stopped and
    removed, staging folders removed). Further signals are ignored until it has cleaned up."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every outcome to an exit code; tracebacks only with --debug."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    in_main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS} if in_main else {}
    try:
        code = _run(args, debug)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.exit(code)


def _run(args: list[str], debug: bool) -> int:
    try:
        code = cli.main(args=args, prog_name="r2o", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort as exc:
        # click turns a KeyboardInterrupt in a command into Abort; ours carries the signal.
        if isinstance(exc.__cause__, Stopped):
            code = _stopped(exc.__cause__)
        else:
            err.print("r2o: interrupted" if isinstance(exc.__cause__, KeyboardInterrupt) else "r2o: aborted")
            code = 130
    except click.ClickException as exc:
        exc.show()
        code = UsageError.exit_code
    except R2OError as exc:
        if debug:
            _print_traceback()
        err.print(f"r2o: error: {exc}", markup=False)
        code = exc.exit_code
    except Stopped as exc:
        code = _stopped(exc)
    except KeyboardInterrupt:
        err.print("r2o: interrupted")
        code = 130
    except Exception as exc:  # a bug in r2o itself: say so plainly
        if debug:
            _print_traceback()
        err.print(
            f"r2o: internal error: {type(exc).__name__}: {exc}\n"
            "  -> rerun with --debug and report the traceback",
            markup=False,
        )
        code = INTERNAL_ERROR
    return code if isinstance(code, int) else 0


def _stopped(exc: Stopped) -> int:
    err.print(f"r2o: stopped by {signal.Signals(exc.signum).name}; what it started was stopped and removed")
    return exc.exit_code


def _print_traceback() -> None:
    import traceback  # only under --debug

    traceback.print_exc()
