"""provenance.json, written beside every task's outputs: what made these files, from what."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROVENANCE_FILE = "provenance.json"


@dataclass(frozen=True)
class Provenance:
    pipeline: str
    task: str
    component: str
    version: str
    image: str
    image_digest: str  # the engine's image id (sha256:...), or "native"
    backend: str
    git_commit: str
    cache_key: str
    parameters: Mapping[str, str]
    inputs: Mapping[str, Mapping[str, Any]]  # name -> {sha256, sources}
    outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> {file, sha256}
    created: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "task": self.task,
            "component": self.component,
            "version": self.version,
            "image": self.image,
            "image_digest": self.image_digest,
            "backend": self.backend,
            "git_commit": self.git_commit,
            "cache_key": self.cache_key,
            "parameters": dict(self.parameters),
            "inputs": {k: dict(v) for k, v in self.inputs.items()},
            "outputs": {k: dict(v) for k, v in self.outputs.items()},
            "created": self.created or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }

    def write(self, folder: Path) -> None:
        (folder / PROVENANCE_FILE).write_text(json.dumps(self.as_dict(), indent=2) + "\n", "utf-8")


def cache_key_of(folder: Path) -> str | None:
    """The cache key recorded in ``folder``'s provenance, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((folder / PROVENANCE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("cache_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None
