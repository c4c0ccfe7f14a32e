"""How long each image took to build here: the planner's estimate when a manifest declares none.

``r2o ci build-images`` (and ``r2o ci node``) record, after building an image, the minutes it took
to build, test and push it in ``.r2o/cache/build-minutes.json``; ``r2o ci plan`` reads them. Only
real builds are recorded (an image found up to date, or reused from the local engine, says nothing
about its cost). On CodeBuild every build starts from a fresh checkout, so the file holds what
builds in this checkout measured (``r2o ci run-buildspec``, or a project with a local or S3
cache of ``.r2o/cache``); ``build.minutes`` in a manifest is the way to tell CodeBuild's planner.

Several builds may finish at once (the local batch runs them in parallel): a record is a
read-modify-write under an exclusive lock, written atomically. A damaged file is ignored.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path

from r2o import fs

FILE = Path(".r2o") / "cache" / "build-minutes.json"
VERSION = 1


def path_in(root: Path) -> Path:
    return root / FILE


def load(path: Path) -> dict[str, float]:
    """Image name -> the minutes its last build here took ({} when nothing was recorded)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    images = data.get("images") if isinstance(data, dict) and data.get("version") == VERSION else None
    if not isinstance(images, dict):
        return {}
    out: dict[str, float] = {}
    for name, entry in images.items():
        minutes = entry.get("minutes") if isinstance(entry, dict) else None
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
            continue
        if math.isfinite(minutes) and minutes > 0:
            out[str(name)] = float(minutes)
    return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / (path.name + ".lock")).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record(path: Path, measured: Mapping[str, tuple[str, float]]) -> None:
    """Keep ``name -> (tag, minutes)`` for each image just built; other entries stay as they were.

    A checkout that cannot be written (read-only) keeps no history: the planner then uses defaults.
    """
    if not measured:
        return
    try:
        with _locked(path):
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                data = {}
            images = data.get("images") if isinstance(data, dict) and data.get("version") == VERSION else None
            images = dict(images) if isinstance(images, dict) else {}
            for name, (tag, minutes) in measured.items():
                images[name] = {"tag": tag, "minutes": round(minutes, 2)}
            fs.ignore_in_git(path.parent)
            text = json.dumps({"version": VERSION, "images": dict(sorted(images.items()))}, indent=1)
            fs.atomic_write(path, text + "\n")
    except OSError:
        pass
