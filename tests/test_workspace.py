"""Sessions: a killed r2o's scratch folders, staging folders and containers are removed by the next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from r2o import workspace

# A process that opens a session, notes an external staging folder, then dies without cleaning up.
DIE = """
import os, sys
from pathlib import Path
from r2o import workspace
s = workspace.Session(Path(sys.argv[1]))
(s.tempdir("golden-") / "half-written.nc").write_text("x")
staging = Path(sys.argv[2])
s.note_external(staging)
staging.mkdir()
print(s.id, flush=True)
os._exit(0)  # like SIGKILL: no atexit, no finally
"""


def die_in_session(root: Path, staging: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", DIE, str(root), str(staging)], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_a_dead_session_is_swept(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    staging = tmp_path / "elsewhere" / ".out.partial-123-abcd"
    staging.parent.mkdir()
    sid = die_in_session(root, staging)
    assert (root / ".r2o" / "tmp" / sid).is_dir() and staging.is_dir()
    assert not workspace.is_alive(root, sid)
    assert workspace.sweep(root) == [sid]
    assert not (root / ".r2o" / "tmp" / sid).exists()
    assert not (root / ".r2o" / "tmp" / f"{sid}.lock").exists()
    assert not staging.exists()


def test_a_living_session_is_kept_and_closes_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    s = workspace.Session(root)
    scratch = s.tempdir("record-")
    assert (scratch.stat().st_mode & 0o777) == 0o700
    assert workspace.is_alive(root, s.id)
    assert workspace.sweep(root) == []
    assert scratch.is_dir()
    s.close()
    assert sorted(p.name for p in (root / ".r2o" / "tmp").iterdir()) == []


def test_only_staging_folders_are_removed_from_the_notes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    precious = tmp_path / "thesis"  # not a staging folder: a forged note must not delete it
    precious.mkdir()
    sid = die_in_session(root, tmp_path / ".x.partial-1")
    with (root / ".r2o" / "tmp" / sid / "external").open("a") as fh:
        fh.write(f"{precious}\n/\n")
    workspace.sweep(root)
    assert precious.is_dir()


class FakeContainer:
    def __init__(self, session: str) -> None:
        self.labels = {workspace.LABEL_SESSION: session}
        self.removed = False

    def remove(self, force: bool = False) -> None:
        self.removed = force


class FakeClient:
    def __init__(self, found: list[FakeContainer]) -> None:
        self.found = found
        self.filters: list[object] = []
        self.containers = self

    def list(self, all: bool, filters: dict[str, object]) -> list[FakeContainer]:
        self.filters.append(filters)
        return self.found


def test_containers_of_dead_sessions_are_removed_once(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    dead = die_in_session(root, tmp_path / ".y.partial-1")
    alive = workspace.Session(root)
    mine = FakeContainer(alive.id)
    orphan = FakeContainer(dead)
    client = FakeClient([mine, orphan])
    assert workspace.sweep_containers(client, alive) == 1
    assert orphan.removed and not mine.removed
    assert client.filters == [{"label": f"org.r2o.repo={root.resolve()}"}]
    assert workspace.sweep_containers(client, alive) == 0  # once per session
    alive.close()
    assert os.path.isdir(root / ".r2o")
