"""A run's files as the API serves them: outputs (with checksums and media types), thumbnails, logs
followed while they grow, the provenance bundle, and uploads written with a size cap.

Every path a client names is looked up among the files the service listed itself, never joined
onto a folder: ``../`` or an absolute path in a URL can only miss (404), and nothing under a run
folder is followed if it is a link.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import os
import re
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from r2o import fs
from r2o.pipeline.local import REPORT_FILE
from r2o.pipeline.provenance import PROVENANCE_FILE
from r2o.run.logs import HEAD_BYTES
from r2o.service.store import Upload, now

THUMBNAIL_PX = 320
LOG_PAGE_MAX = 1 << 20
_SKIP_TOP = {"logs", "inputs", ".inputs", ".thumbs"}
_MEDIA = {
    ".nc": "application/x-netcdf",
    ".ncf": "application/x-netcdf",
    ".nc4": "application/x-netcdf",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".json": "application/json",
    ".png": "image/png",
    ".npy": "application/octet-stream",
    ".npz": "application/zip",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the run folder: "<step>/<day>/<file>" or "<step>/<file>"
    task: str
    size: int
    sha256: str
    media_type: str

    @property
    def is_image(self) -> bool:
        return self.media_type == "image/png"


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def _sha256(path: Path, st: os.stat_result) -> str:
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        found = _hash_cache.get(key)
    if found is not None:
        return found
    h = hashlib.sha256()
    with fs.open_regular(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with _hash_lock:
        _hash_cache[key] = digest
    return digest


def outputs(run_dir: Path) -> list[OutputFile]:
    """Every output file of a run's finished tasks (each task folder holds provenance.json)."""
    out: list[OutputFile] = []
    if not run_dir.is_dir():
        return out
    for prov in sorted(run_dir.rglob(PROVENANCE_FILE)):
        task_dir = prov.parent
        rel_task = task_dir.relative_to(run_dir).as_posix()
        if rel_task.split("/")[0] in _SKIP_TOP or any(p.startswith(".") for p in rel_task.split("/")):
            continue
        try:
            declared = json.loads(prov.read_text()).get("outputs", {})
        except (OSError, ValueError):
            declared = {}
        sums = {v.get("file"): v.get("sha256") for v in declared.values() if isinstance(v, dict)}
        found = fs.scan(task_dir, outside_links=False)
        for rel, entry in sorted(found.entries.items()):
            if entry.kind != "file" or rel == PROVENANCE_FILE:
                continue
            path = task_dir / rel
            st = path.lstat()
            digest = sums.get(rel) or _sha256(path, st)
            out.append(OutputFile(f"{rel_task}/{rel}", rel_task, st.st_size, digest, media_type(rel)))
    return out


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _MEDIA.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def find_output(run_dir: Path, rel: str) -> tuple[OutputFile, Path] | None:
    """The output file ``rel`` names, if it is one of the run's listed outputs."""
    for item in outputs(run_dir):
        if item.path == rel:
            path = run_dir / item.path
            mode = path.lstat().st_mode
            return (item, path) if stat.S_ISREG(mode) else None
    return None


def thumbnail(run_dir: Path, item: OutputFile) -> Path:
    """A PNG at most THUMBNAIL_PX wide, made once and kept beside the run's files."""
    from PIL import Image

    target = run_dir / ".thumbs" / f"{item.sha256}.png"
    if target.exists():
        return target
    with fs.open_regular(run_dir / item.path) as fh, Image.open(fh) as img:
        img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        with fs.atomic_writer(target) as out:
            img.save(out, format="PNG")
    return target


# --- logs ---------------------------------------------------------------------------------------


def log_path(run_dir: Path, task_id: str) -> Path:
    return run_dir / "logs" / f"{task_id}.log"


@dataclass(frozen=True)
class LogPage:
    text: str
    offset: int
    next_offset: int
    size: int
    complete: bool  # the task finished: nothing more will be written


def read_log(path: Path, offset: int, limit: int, *, finished: bool) -> LogPage:
    """Bytes ``offset`` .. ``offset + limit`` of a task's log. While the task runs, the log grows
    up to its head (4 MiB); the rest of a long log appears, capped, when the task ends."""
    limit = max(1, min(limit, LOG_PAGE_MAX))
    try:
        with fs.open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(min(max(offset, 0), size))
            data = fh.read(limit)
    except FileNotFoundError:
        return LogPage("", offset, offset, 0, finished)
    start = min(max(offset, 0), size)
    end = start + len(data)
    complete = finished and end >= size
    if not finished and size >= HEAD_BYTES and end >= size:
        data += b"\n[r2o: the rest of this log appears when the task ends]\n" if start == end else b""
    return LogPage(data.decode("utf-8", "replace"), start, end, size, complete)


# --- provenance ---------------------------------------------------------------------------------


def provenance(run_dir: Path, run: dict[str, Any]) -> dict[str, Any]:
    """One document: the run as submitted, the executor's report, and every task's provenance."""
    tasks: dict[str, Any] = {}
    for prov in sorted(run_dir.rglob(PROVENANCE_FILE)):
        rel = prov.parent.relative_to(run_dir).as_posix()
        if rel.split("/")[0] in _SKIP_TOP:
            continue
        try:
            tasks[rel] = json.loads(prov.read_text())
        except (OSError, ValueError):
            continue
    report: Any = None
    try:
        report = json.loads((run_dir / REPORT_FILE).read_text())
    except (OSError, ValueError):
        report = None
    return {"run": run, "report": report, "tasks": tasks}


# --- uploads ------------------------------------------------------------------------------------


class TooLarge(Exception):
    pass


def store_upload(
    chunks: Iterator[bytes] | IO[bytes], uploads_dir: Path, *, user: str, filename: str, max_bytes: int
) -> Upload:
    """Write an upload to ``uploads_dir/<id>/<name>`` (all of it or nothing), hashing as it streams;
    TooLarge past ``max_bytes`` (what was written is removed)."""
    upload_id = uuid.uuid4().hex
    name = _SAFE_NAME.sub("_", Path(filename or "upload").name).strip("._") or "upload"
    folder = uploads_dir / upload_id
    folder.mkdir(parents=True)
    target = folder / name
    h = hashlib.sha256()
    size = 0
    source: Iterator[bytes]
    if isinstance(chunks, io.IOBase) or hasattr(chunks, "read"):  # a file: read blocks, not lines
        reader: Any = chunks
        source = iter(lambda: reader.read(1 << 20), b"")
    else:
        source = chunks
    try:
        with fs.atomic_writer(target, mode=0o644) as out:
            for block in source:
                size += len(block)
                if size > max_bytes:
                    raise TooLarge(f"the upload is larger than {max_bytes} bytes")
                h.update(block)
                out.write(block)
    except BaseException:
        fs.remove_tree(folder)
        raise
    return Upload(upload_id, user, name, size, h.hexdigest(), str(target), now())


def remove_upload(upload: Upload) -> None:
    fs.remove_tree(Path(upload.path).parent)
