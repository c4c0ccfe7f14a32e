"""Git, the one place r2o asks it anything: always ``git -C ROOT``, never a shell string."""

from __future__ import annotations

import subprocess
from pathlib import Path

from r2o.errors import GitError

UNKNOWN = "unknown"


def run(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``git -C root ARGS``; the caller reads the return code. No git at all is a GitError."""
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}", hint="install git") from exc


def rev(root: Path, revision: str) -> str | None:
    """The commit ``revision`` names, or None when it names none."""
    proc = run(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def head_commit(root: Path) -> str:
    """``git rev-parse HEAD`` of ``root``, or "unknown" outside git (tags and provenance still render)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else UNKNOWN


def work_tree_files(root: Path) -> list[str] | None:
    """Files git tracks plus untracked ones it does not ignore (repository-relative, POSIX); None
    when ``root`` is not a git work tree or git cannot answer."""
    if not (root / ".git").exists():
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return [n for n in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
