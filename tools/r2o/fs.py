"""Files: writing ours atomically, and reading what a container wrote as the untrusted data it is.

A component controls every byte and every inode type under its output folder. Nothing here follows
a symbolic link found there, opens a FIFO (which would block), reads a device, or trusts a hard
link to an inode outside the folder: :func:`scan` walks the folder with ``lstat`` and lists every
such entry as a problem, :func:`open_regular` opens one file with ``O_NOFOLLOW | O_NONBLOCK`` and
checks what it opened, and :func:`copy_tree` copies only what ``scan`` accepted.

Our own writes are atomic: :func:`atomic_write` goes through a temporary file and a rename, and
:func:`replace_dir` swaps a finished staging folder into place so readers see the old tree or the
new one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from r2o.errors import BusyError

COPY_CHUNK = 1 << 20


# --- our own writes --------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """A file to write ``path`` through: a temporary file in the same folder, renamed onto ``path``
    when the block ends without an error, removed when it raises. Readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fchmod(fh.fileno(), mode)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o644) -> None:
    """Write ``path`` through a temporary file in its folder and a rename: all of it, or nothing."""
    with atomic_writer(path, mode=mode) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def ignore_in_git(folder: Path) -> None:
    """Make ``folder`` (r2o's scratch, caches and run outputs under .r2o/) invisible to git."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            atomic_write(ignore, "# written by r2o: nothing in this folder belongs in git\n*\n")


def private_dir(parent: Path, prefix: str) -> Path:
    """A new folder only we can enter (mode 0700), beside where its contents will be promoted."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def replace_dir(staging: Path, dest: Path) -> None:
    """Move ``staging`` to ``dest``, replacing what is there, with renames only (same filesystem)."""
    if dest.exists() or dest.is_symlink():
        trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.rename(dest, trash / "old")
        os.rename(staging, dest)
        remove_tree(trash)
    else:
        os.rename(staging, dest)


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a folder, a file or a link), never following links; gone is fine."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        _make_removable(path)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _make_removable(root: Path) -> None:
    """A component may leave folders without write or search permission; as a non-root user r2o
    could then not delete their contents. Give our own user the rights back, links untouched."""
    if os.geteuid() == 0:
        return
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            with contextlib.suppress(OSError):
                p = os.path.join(dirpath, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)


@contextlib.contextmanager
def exclusive(lock_path: Path, what: str, hint: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` for the block, or raise BusyError at once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BusyError(f"{what} is in use by another r2o process", hint=hint) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- what a container wrote ------------------------------------------------------------------------


def kind_of(mode: int) -> str:
    """A readable name of an inode type."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


@dataclass(frozen=True)
class Entry:
    rel: str  # POSIX path relative to the scanned root
    kind: str  # "file" or "folder" (anything else is a problem, not an entry)
    size: int  # bytes a copy would take: max(apparent size, allocated blocks)


@dataclass
class Scan:
    """Everything under a folder, and everything there that r2o refuses to touch."""

    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "rel: what it is" for each refused entry

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.entries.values())

    def problem_text(self, limit: int = 10) -> str:
        shown = self.problems[:limit]
        more = len(self.problems) - len(shown)
        return "\n".join(f"    {p}" for p in shown) + (f"\n    ... and {more} more" if more > 0 else "")


def _size(st: os.stat_result) -> int:
    return max(st.st_size, st.st_blocks * 512)


def scan(root: Path, *, outside_links: bool = True) -> Scan:
    """``lstat`` every entry under ``root``: regular files and folders are entries; links, FIFOs,
    sockets, devices and (with ``outside_links``) hard links to inodes outside ``root`` are
    problems. Never follows a link."""
    result = Scan(root)
    links: dict[tuple[int, int], list[str]] = {}
    nlinks: dict[tuple[int, int], int] = {}

    def walk(folder: str, rel: str) -> None:
        try:
            listing = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            result.problems.append(f"{rel or '.'}: cannot be listed ({exc.strerror})")
            return
        for item in listing:
            sub = f"{rel}/{item.name}" if rel else item.name
            try:
                st = item.stat(follow_symlinks=False)
            except OSError as exc:
                result.problems.append(f"{sub}: cannot be read ({exc.strerror})")
                continue
            if stat.S_ISDIR(st.st_mode):
                result.entries[sub] = Entry(sub, "folder", 0)
                walk(item.path, sub)
            elif stat.S_ISREG(st.st_mode):
                result.entries[sub] = Entry(sub, "file", _size(st))
                if st.st_nlink > 1 and outside_links:
                    key = (st.st_dev, st.st_ino)
                    links.setdefault(key, []).append(sub)
                    nlinks[key] = st.st_nlink
            elif stat.S_ISLNK(st.st_mode):
                try:
                    target = os.readlink(item.path)
                except OSError:
                    target = "?"
                result.problems.append(f"{sub}: a symbolic link to {target}")
            else:
                result.problems.append(f"{sub}: a {kind_of(st.st_mode)}")

    walk(str(root), "")
    for key, names in links.items():
        if nlinks[key] > len(names):
            outside = nlinks[key] - len(names)
            for name in names:
                result.entries.pop(name, None)
                result.problems.append(
                    f"{name}: a hard link to a file with {outside} other name(s) outside the output folder"
                )
    return result


def usage(root: Path, *, budget: int | None = None) -> int:
    """Bytes under ``root`` as :func:`scan` counts them, for polling while a component runs; stops
    counting once past ``budget``. Links are not followed and count nothing."""
    total = 0
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for item in it:
                    try:
                        st = item.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(item.path)
                    elif stat.S_ISREG(st.st_mode):
                        total += _size(st)
                        if budget is not None and total > budget:
                            return total
        except OSError:
            continue
    return total


def open_regular(path: Path, *, follow: bool = False) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file: never blocks on a FIFO, never reads a
    device, and (unless ``follow``) never follows a symbolic link. Raises OSError otherwise."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symbolic link", str(path)) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"is a {kind_of(st.st_mode)}, not a regular file", str(path))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def copy_file(src: Path, dst: Path) -> None:
    """Copy regular file ``src`` (not followed if a link) to a new file ``dst`` (never overwritten)."""
    with open_regular(src) as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout, COPY_CHUNK)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy folder ``src`` to a new folder ``dst``: regular files and folders only, after a
    :func:`scan` that found nothing to refuse (the caller checks ``scan(src).problems``)."""
    found = scan(src)
    if found.problems:
        raise OSError(errno.EINVAL, f"holds entries r2o does not copy:\n{found.problem_text()}", str(src))
    os.mkdir(dst, 0o755)
    for rel, entry in found.entries.items():
        if entry.kind == "folder":
            os.mkdir(dst / rel, 0o755)
        else:
            copy_file(src / rel, dst / rel)


def normalize_modes(root: Path) -> None:
    """Make a promoted tree readable by all and writable by no one but its owner: no setuid, setgid
    or sticky bits, no group or world write. Only regular files and folders are touched."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                os.chmod(p, 0o755)
            elif stat.S_ISREG(st.st_mode):
                os.chmod(p, 0o755 if st.st_mode & 0o111 else 0o644)
    os.chmod(root, 0o755)
