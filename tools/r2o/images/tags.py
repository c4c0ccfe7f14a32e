"""Content-addressed image tags, computed from the tree without building anything.

A tag is ``<name>:<version>-<12 hex>``. The hex digits are the start of a sha256 over, in order:
the tag scheme version, the image's name and kind, its parent's full tag (so a change anywhere up
the base-image chain changes every dependent), its build args, and for every file of its folder
(by its path inside the folder) and of each ``include`` path (by its repository path): the path,
the executable bit and the sha256 of the content. Files are those git tracks plus untracked files
git does not ignore (a new file changes the tag before it is committed); outside a git checkout,
every file except caches.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from r2o import git

SCHEME = "r2o-tag-v1"
HEX_DIGITS = 12
_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class SourceIndex:
    """Every source file of a checkout, listed once (one git call), then filtered per image."""

    def __init__(self, root: Path) -> None:
        self.root = root
        listed = _git_files(root)
        self.files: list[str] = sorted(listed if listed is not None else _walk_files(root))

    def under(self, paths: Iterable[str]) -> list[str]:
        """Repository-relative POSIX paths of the files at or under ``paths``."""
        out: set[str] = set()
        for rel in {p.strip("/") for p in paths}:
            prefix = rel + "/"
            lo = bisect.bisect_left(self.files, rel)
            for name in self.files[lo:]:
                if name == rel or name.startswith(prefix):
                    out.add(name)
                elif name > prefix:
                    break
        return sorted(out)


def _git_files(root: Path) -> list[str] | None:
    names = git.work_tree_files(root)
    if names is None:
        return None
    # --cached lists files deleted from the work tree but not yet from the index: skip them.
    return [n for n in names if not _skipped(n) and (root / n).is_file()]


def _walk_files(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and d != ".venv")
        for f in filenames:
            rel_path = (Path(dirpath) / f).relative_to(root).as_posix()
            if not _skipped(rel_path):
                out.append(rel_path)
    return out


def _skipped(rel: str) -> bool:
    parts = rel.split("/")
    return any(p in _SKIP_DIRS for p in parts) or rel.endswith(_SKIP_SUFFIXES)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(
    *,
    index: SourceIndex,
    name: str,
    kind: str,
    folder: str,
    includes: Iterable[str] = (),
    parent_tag: str | None,
    build_args: Mapping[str, str],
) -> str:
    """The hex content address (full length) of one image."""
    h = hashlib.sha256()

    def put(*fields: str) -> None:
        for f in fields:
            h.update(f.encode("utf-8", "surrogateescape"))
            h.update(b"\0")
        h.update(b"\n")

    put(SCHEME, kind, name)
    put("parent", parent_tag or "")
    for key in sorted(build_args):
        put("arg", key, build_args[key])
    # The image's own folder is hashed by paths relative to it, so where the folder sits (a
    # staging folder while `r2o new` works, a renamed parent) does not change the content address.
    for rel in index.under([folder]):
        full = index.root / rel
        executable = "x" if os.access(full, os.X_OK) else "-"
        put("file", "./" + rel[len(folder.strip("/")) + 1 :], executable, file_digest(full))
    for rel in index.under(includes):
        full = index.root / rel
        executable = "x" if os.access(full, os.X_OK) else "-"
        put("include", rel, executable, file_digest(full))
    return h.hexdigest()


def tag(name: str, version: str, digest: str) -> str:
    return f"{name}:{version}-{digest[:HEX_DIGITS]}"
