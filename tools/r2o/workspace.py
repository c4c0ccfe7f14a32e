"""This r2o process's scratch space in a repository, and the removal of what killed ones left behind.

Every r2o process that runs something in a repository owns a session there:

- ``.r2o/tmp/<id>/`` holds its temporary folders (golden runs, recordings), mode 0700;
- ``.r2o/tmp/<id>.lock`` is locked (flock) for the life of the process, so a free lock means a
  dead owner;
- staging folders that must sit elsewhere (beside an ``r2o run --output`` outside the repository,
  for an atomic rename) are noted in ``<id>/external`` before they are made;
- containers it starts carry the labels ``org.r2o.repo`` and ``org.r2o.session``.

A process stopped by a signal cleans up as it goes; one killed with SIGKILL cleans nothing. The
next r2o process that opens a session in the same repository finds the sessions whose lock is free
and removes their folders, their noted staging folders and, once it talks to Docker, their
containers.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import secrets
import threading
import time
from pathlib import Path
from typing import IO, Any

from r2o import fs

TMP = Path(".r2o") / "tmp"
LABEL_REPO = "org.r2o.repo"
LABEL_SESSION = "org.r2o.session"
LABEL_COMPONENT = "org.r2o.component"
EXTERNAL = "external"
STAGING_MARKS = (".partial-", ".old-")  # the only kind of folder a noted external path may be
ORPHAN_AGE_S = 60  # a session folder without a lock file is removed once this old


class Session:
    """One process's scratch space in one repository; see the module docstring."""

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = repo_root.resolve()
        self.tmp_root = self.repo_root / TMP
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        fs.ignore_in_git(self.repo_root / ".r2o")
        self.id = f"{os.getpid()}-{secrets.token_hex(4)}"
        # The lock is held before it gets the name sweepers look for, and before the folder exists:
        # a sweeper never sees this session unlocked.
        fresh = self.tmp_root / f".{self.id}.new"
        self._lock: IO[str] | None = fresh.open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        os.rename(fresh, self.tmp_root / f"{self.id}.lock")
        self.dir = self.tmp_root / self.id
        self.dir.mkdir(mode=0o700)
        self._mutex = threading.Lock()
        self.containers_swept = False

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_REPO: str(self.repo_root), LABEL_SESSION: self.id}

    def tempdir(self, prefix: str) -> Path:
        """A new private folder inside this session."""
        return fs.private_dir(self.dir, prefix)

    def note_external(self, path: Path) -> None:
        """Remember a staging folder outside the session, so a sweeper can remove it if we die."""
        with self._mutex, (self.dir / EXTERNAL).open("a") as fh:
            fh.write(f"{path}\n")
            fh.flush()
            os.fsync(fh.fileno())

    def close(self) -> None:
        """Remove this session's folders; our containers were removed by whoever started them."""
        if self._lock is None:
            return
        _remove_session(self.tmp_root, self.id)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()
        self._lock = None


_sessions: dict[Path, Session] = {}
_sessions_lock = threading.Lock()


def session(repo_root: Path) -> Session:
    """This process's session in ``repo_root``, opened (after sweeping dead ones) on first use."""
    root = repo_root.resolve()
    with _sessions_lock:
        found = _sessions.get(root)
        if found is None:
            sweep(root)
            found = _sessions[root] = Session(root)
        return found


@atexit.register
def close_all() -> None:
    with _sessions_lock:
        for s in _sessions.values():
            with contextlib.suppress(OSError):
                s.close()
        _sessions.clear()


def sweep(repo_root: Path) -> list[str]:
    """Remove the folders of every session in ``repo_root`` whose owner is dead; their ids."""
    tmp_root = repo_root / TMP
    if not tmp_root.is_dir():
        return []
    dead: list[str] = []
    for lock_path in sorted(tmp_root.glob("*.lock")):
        sid = lock_path.name[: -len(".lock")]
        with contextlib.suppress(OSError), lock_path.open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # alive
            _remove_session(tmp_root, sid)
            dead.append(sid)
    now = time.time()
    for folder in tmp_root.iterdir():
        if folder.is_dir() and not (tmp_root / f"{folder.name}.lock").exists():
            with contextlib.suppress(OSError):
                if now - folder.lstat().st_mtime > ORPHAN_AGE_S:
                    _remove_session(tmp_root, folder.name)
    return dead


def _remove_session(tmp_root: Path, sid: str) -> None:
    folder = tmp_root / sid
    with contextlib.suppress(OSError):
        for line in (folder / EXTERNAL).read_text().splitlines():
            path = Path(line)
            # Only what we made: a hidden staging folder; never a path someone wrote here by hand.
            if (
                path.is_absolute()
                and path.name.startswith(".")
                and any(m in path.name for m in STAGING_MARKS)
            ):
                fs.remove_tree(path)
    fs.remove_tree(folder)
    with contextlib.suppress(OSError):
        (tmp_root / f"{sid}.lock").unlink()


def is_alive(repo_root: Path, sid: str) -> bool:
    """Whether session ``sid`` of ``repo_root`` still has a living owner."""
    if any(s.id == sid for s in _sessions.values()):
        return True
    lock_path = repo_root / TMP / f"{sid}.lock"
    if not lock_path.exists():
        return False
    try:
        with lock_path.open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def sweep_containers(client: Any, s: Session) -> int:
    """Remove containers of ``s``'s repository whose session is dead; how many. Once per session."""
    if s.containers_swept:
        return 0
    s.containers_swept = True
    removed = 0
    try:
        containers = client.containers.list(all=True, filters={"label": f"{LABEL_REPO}={s.repo_root}"})
    except Exception:  # best effort: a sweep must never stop the command that triggered it
        return 0
    for container in containers:
        sid = (container.labels or {}).get(LABEL_SESSION, "")
        if sid and not is_alive(s.repo_root, sid):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed += 1
    return removed
