"""What the AQcast stages' command lines share: the input-error type, ``--date``, the exit code.

Each stage's ``main`` parses its arguments, then hands its work to :func:`run_step`, which turns a bad
input (:class:`InputFileError`) or an output that cannot be written into one line on stderr,
``PROG: error: ...``, and exit code :data:`EXIT_INPUT`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

EXIT_INPUT = 3  # r2o's input-error code: the run stops before any output is promoted

T = TypeVar("T")


class InputFileError(Exception):
    """A bad or missing input file; the message names the file, the field and what to do."""


def day_argument(text: str) -> dt.date:
    """``type=`` of a ``--date`` argument: one UTC day, YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--date must be YYYY-MM-DD, got {text!r}") from exc


def run_step(prog: str, out: Path, step: Callable[[], T]) -> T | None:
    """``step()``, or None after printing why it failed: a bad input, or ``out`` not writable."""
    try:
        return step()
    except InputFileError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{prog}: error: cannot write {out}: {exc}", file=sys.stderr)
    return None
