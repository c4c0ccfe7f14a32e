"""A pipeline's external input files: which are missing, and making them with the input's ``prepare``
command (AQcast's coarse synoptic files, which stand in for a global model's analysis).

A ``prepare`` command runs on the host in the repository (``python3`` is the interpreter r2o runs
under), with ``${day}`` and ``${path}`` substituted; it writes a temporary file beside the target,
which is renamed into place only when the command succeeds: a failed or interrupted preparation
never leaves a half-written input where a pipeline would read it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from r2o import fs
from r2o.errors import PipelineError
from r2o.pipeline.plan import TaskGraph
from r2o.pipeline.spec import PipelineInput
from r2o.repo import Repository

PREPARE_TIMEOUT_S = 600
TAIL_LINES = 15


@dataclass(frozen=True)
class InputFile:
    input: PipelineInput
    day: str | None
    path: Path


def files(repo: Repository, graph: TaskGraph) -> list[InputFile]:
    """Every external input file the graph's tasks read, once each, in day order."""
    out: dict[Path, InputFile] = {}
    days: list[str | None] = list(graph.dates)
    for pin in graph.pipeline.inputs.values():
        for day in days if pin.per_day else [None]:
            text = pin.path.replace("${day}", day or "")
            path = Path(text) if Path(text).is_absolute() else repo.root / text
            out.setdefault(path, InputFile(pin, day, path))
    return list(out.values())


def missing(repo: Repository, graph: TaskGraph) -> list[InputFile]:
    return [f for f in files(repo, graph) if not f.path.exists()]


def prepare_missing(
    repo: Repository, graph: TaskGraph, *, say: Callable[[str], None] = lambda line: None
) -> list[Path]:
    """Make every missing input file that has a ``prepare`` command; the paths made. Files without
    one are left for the run's own check, which names them all."""
    made = []
    for f in missing(repo, graph):
        if not f.input.prepare:
            continue
        say(f"preparing {f.input.name} {f.day or ''}: {repo.rel(f.path)}".rstrip())
        prepare(repo, f)
        made.append(f.path)
    return made


def prepare(repo: Repository, f: InputFile) -> None:
    f.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.path.with_name(f".{f.path.name}.partial-{os.getpid()}")
    argv = [a.replace("${day}", f.day or "").replace("${path}", str(tmp)) for a in f.input.prepare]
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    try:
        proc = subprocess.run(
            argv, cwd=repo.root, capture_output=True, text=True, timeout=PREPARE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        fs.remove_tree(tmp)
        raise PipelineError(
            f"cannot prepare input {f.input.name} for {f.day or 'the run'}: {exc}",
            hint=f"check inputs.{f.input.name}.prepare in the pipeline file",
        ) from None
    if proc.returncode != 0 or not tmp.exists():
        fs.remove_tree(tmp)
        tail = "\n".join(f"    | {ln}" for ln in (proc.stderr or proc.stdout).splitlines()[-TAIL_LINES:])
        raise PipelineError(
            f"preparing input {f.input.name} for {f.day or 'the run'} failed (exit {proc.returncode}); "
            f"last lines:\n{tail or '    (no output)'}",
            hint=f"run it by hand: {' '.join(argv)}",
        )
    os.replace(tmp, f.path)
