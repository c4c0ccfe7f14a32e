"""Reading what a container wrote: scan, open and copy never follow links or block on FIFOs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from r2o import fs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (root / "sub" / "b.bin").write_bytes(b"\0" * 5000)
    return root


def test_scan_lists_files_and_folders_with_their_sizes(tree: Path) -> None:
    found = fs.scan(tree)
    assert found.problems == []
    assert {k: (e.kind, e.size) for k, e in found.entries.items()} == {
        "a.txt": ("file", 4096),  # a copy takes whole blocks: the larger of size and allocation
        "sub": ("folder", 0),
        "sub/b.bin": ("file", 8192),
    }


def test_scan_refuses_links_fifos_and_outside_hard_links(tree: Path, tmp_path: Path) -> None:
    (tree / "sub" / "passwd").symlink_to("/etc/passwd")
    (tree / "dangling").symlink_to("nowhere")
    os.mkfifo(tree / "pipe")
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.link(outside, tree / "stolen")
    os.link(tree / "a.txt", tree / "sub" / "a-again.txt")  # inside: fine
    found = fs.scan(tree)
    assert sorted(found.problems) == [
        "dangling: a symbolic link to nowhere",
        "pipe: a FIFO",
        "stolen: a hard link to a file with 1 other name(s) outside the output folder",
        "sub/passwd: a symbolic link to /etc/passwd",
    ]
    assert "stolen" not in found.entries and "sub/a-again.txt" in found.entries
    assert fs.scan(tree, outside_links=False).problems == [p for p in found.problems if "hard link" not in p]


def test_usage_counts_without_following_and_stops_past_a_budget(tree: Path) -> None:
    (tree / "big").symlink_to("/usr")  # followed, this would count the whole of /usr
    assert fs.usage(tree) == 4096 + 8192
    assert fs.usage(tree, budget=100) > 100


def test_a_sparse_file_counts_its_apparent_size(tmp_path: Path) -> None:
    with (tmp_path / "sparse").open("wb") as fh:
        fh.truncate(1 << 30)  # 1 GiB apparent, nothing allocated: a copy would write it all
    assert fs.usage(tmp_path) == 1 << 30


def test_open_regular_never_follows_or_blocks(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "a.txt")
    os.mkfifo(tree / "pipe")
    with fs.open_regular(tree / "a.txt") as fh:
        assert fh.read() == b"a\n"
    with pytest.raises(OSError, match="is a symbolic link"):
        fs.open_regular(tree / "link")
    with pytest.raises(OSError, match="is a FIFO, not a regular file"):
        fs.open_regular(tree / "pipe")  # returns at once: O_NONBLOCK, then refused
    with pytest.raises(OSError, match="is a folder"):
        fs.open_regular(tree / "sub")


def test_copy_tree_copies_regular_entries_and_refuses_the_rest(tree: Path, tmp_path: Path) -> None:
    fs.copy_tree(tree, tmp_path / "copy")
    assert (tmp_path / "copy" / "sub" / "b.bin").read_bytes() == b"\0" * 5000
    (tree / "sub" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(OSError, match="sub/passwd: a symbolic link to /etc/passwd"):
        fs.copy_tree(tree, tmp_path / "copy2")
    assert not (tmp_path / "copy2").exists()


def test_copy_file_never_overwrites(tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep\n")
    with pytest.raises(FileExistsError):
        fs.copy_file(tree / "a.txt", target)
    assert target.read_text() == "keep\n"


def test_normalize_modes_strips_setuid_and_world_write(tree: Path) -> None:
    os.chmod(tree / "a.txt", 0o6777)
    os.chmod(tree / "sub", 0o777)
    fs.normalize_modes(tree)
    assert stat.S_IMODE((tree / "a.txt").stat().st_mode) == 0o755
    assert stat.S_IMODE((tree / "sub").stat().st_mode) == 0o755
    assert stat.S_IMODE((tree / "sub" / "b.bin").stat().st_mode) == 0o644


def test_atomic_write_leaves_the_old_file_or_the_new(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    fs.atomic_write(path, "one\n")
    fs.atomic_write(path, b"two\n")
    assert path.read_text() == "two\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_exclusive_refuses_a_second_holder(tmp_path: Path) -> None:
    from r2o.errors import BusyError

    lock = tmp_path / "locks" / "case.lock"
    with (
        fs.exclusive(lock, "case x", hint="wait"),
        pytest.raises(BusyError, match="case x is in use by another r2o process") as info,
        fs.exclusive(lock, "case x", hint="wait"),
    ):
        pass
    assert info.value.exit_code == 16
    with fs.exclusive(lock, "case x", hint="wait"):  # free again
        pass
