"""Every error r2o raises on purpose, with the exit code the CLI maps it to.

The tree (exit code in brackets)::

    R2OError [1]                   base class; never raised directly
    ├── UsageError [2]             a bad command-line argument
    ├── InputError [3]             a bad input file: manifest, image.yaml, case, pipeline
    │   └── ManifestError [3]      ... carrying one or more located Problems
    ├── NotFoundError [4]          a named component, image, case or file does not exist
    ├── EngineError [5]            no Docker engine answers, or it refused a request
    ├── BuildError [6]             an image build failed
    ├── RunError [7]               a component run failed (non-zero exit)
    │   ├── OutOfMemoryError [8]   ... the kernel killed it at its memory limit
    │   ├── RunTimeoutError [9]    ... it ran past its timeout
    │   ├── UnsafeOutputError [14] ... it wrote a link, FIFO, socket or device, or an output of the wrong type
    │   └── StorageLimitError [15] ... it wrote more than resources.storage_mib
    ├── CannotCompareError [10]    a file could not be read for comparison (corrupt, truncated)
    ├── GitError [11]              git could not answer (no repository, unknown revision)
    ├── AwsError [12]              an AWS call failed (credentials, unknown queue, throttling)
    ├── PipelineError [13]         a pipeline task failed
    └── BusyError [16]             another r2o process holds what this one needs (a case being recorded)

A signal that stops r2o (SIGINT, SIGTERM, SIGHUP) is :class:`Stopped`, a KeyboardInterrupt: every
cleanup path that handles Ctrl-C handles it, and the CLI exits with 128 + the signal number.

"Outputs differ" and "golden test failed" are verdicts, not errors: commands return exit code 1
for them (like diff(1)), distinct from CannotCompareError's 10.

Every message is a short paragraph: what failed (file, field, line), why, and what to do next.
The CLI prints ``str(error)``; a traceback only under ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One located problem in an input file."""

    file: Path | str
    field: str  # a dotted/indexed path such as "resources.vcpus" or "inputs[1].path"; "" = whole file
    message: str
    line: int | None = None
    hint: str = ""

    def __str__(self) -> str:
        where = str(self.file)
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class R2OError(Exception):
    """Base class of every error r2o reports to its user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class UsageError(R2OError):
    exit_code = 2


class InputError(R2OError):
    exit_code = 3


class ManifestError(InputError):
    """One or more problems in input files; ``problems`` lists them all, not only the first."""

    def __init__(self, problems: Sequence[Problem], *, hint: str = "") -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        body = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}\n{body}", hint=hint)

    @classmethod
    def single(
        cls, file: Path | str, field: str, message: str, *, line: int | None = None, hint: str = ""
    ) -> ManifestError:
        return cls([Problem(file, field, message, line, hint)])


class NotFoundError(R2OError):
    exit_code = 4


class EngineError(R2OError):
    exit_code = 5


class BuildError(R2OError):
    exit_code = 6


class RunError(R2OError):
    """A run that failed; ``status`` is the component's own exit status when it had one."""

    exit_code = 7

    def __init__(self, message: str, *, hint: str = "", status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class OutOfMemoryError(RunError):
    exit_code = 8


class RunTimeoutError(RunError):
    exit_code = 9


class UnsafeOutputError(RunError):
    exit_code = 14


class StorageLimitError(RunError):
    exit_code = 15


class CannotCompareError(R2OError):
    exit_code = 10


class GitError(R2OError):
    exit_code = 11


class AwsError(R2OError):
    exit_code = 12


class PipelineError(R2OError):
    exit_code = 13


class BusyError(R2OError):
    exit_code = 16


class Stopped(KeyboardInterrupt):
    """r2o was asked to stop by a signal; ``exit_code`` is 128 + its number (130 for Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix, or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
