"""The content-addressed task cache: a task's key, and its finished outputs under .r2o/cache/tasks/<key>/.

A key is the sha256 of what decides a task's outputs: the component's image tag (itself a hash of
the component's code, its includes and its base images), the backend (a native run uses the host's
libraries, not the image's), the parameters, and the content hash of every input file. An entry
exists only once the runner promoted it (one rename), so its presence means it is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20


@dataclass
class Hasher:
    """sha256 of files and directories, remembered by (path, size, mtime) within one process."""

    _memo: dict[tuple[str, int, int], str] = field(default_factory=dict)

    def file(self, path: Path) -> str:
        st = path.stat()
        memo_key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        found = self._memo.get(memo_key)
        if found is not None:
            return found
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                h.update(chunk)
        digest = h.hexdigest()
        self._memo[memo_key] = digest
        return digest

    def tree(self, path: Path) -> str:
        """A file's hash, or a directory's: the hash of its sorted (relative name, file hash) pairs."""
        if path.is_file():
            return self.file(path)
        entries = sorted(
            (p.relative_to(path).as_posix(), self.file(p)) for p in path.rglob("*") if p.is_file()
        )
        return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def task_key(*, image: str, backend: str, parameters: Mapping[str, str], inputs: Mapping[str, str]) -> str:
    """The cache key of one task (``inputs``: input name -> content hash)."""
    body = {
        "image": image,
        "backend": backend,
        "parameters": dict(sorted(parameters.items())),
        "inputs": dict(sorted(inputs.items())),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class TaskCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return self.entry(key).is_dir()

    def clean_partials(self) -> int:
        """Remove staging directories a killed run left behind (never promoted, so never used)."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for shard in self.root.iterdir():
            if not shard.is_dir():
                continue
            for child in shard.iterdir():
                if child.name.startswith(".") and (".partial-" in child.name or ".old-" in child.name):
                    shutil.rmtree(child, ignore_errors=True)
                    removed += 1
        return removed


def link_tree(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` with hard links where the file system allows (the cache is read-only
    by convention: nothing rewrites a promoted file in place)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        target = dest / item.name
        if item.is_dir():
            link_tree(item, target)
        else:
            try:
                os.link(item, target)
            except OSError:
                shutil.copy2(item, target)
