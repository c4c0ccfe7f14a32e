"""The capped log: every byte up to the head, the last bytes of the tail, a marker between."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2o.run.logs import CappedLog


def test_a_short_log_is_kept_whole(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "log.txt", head=100, tail=50)
    log.write(b"hello\n")
    log.write(b"world\n")
    done = log.close()
    assert (tmp_path / "log.txt").read_bytes() == b"hello\nworld\n"
    assert (done.total_bytes, done.elided_bytes) == (12, 0)
    assert done.tail(1) == "world"


def test_a_flood_keeps_head_and_tail_with_a_marker(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "log.txt", head=10, tail=8)
    data = bytes(range(256)) * 40  # 10,240 bytes, in uneven chunks
    for i in range(0, len(data), 37):
        log.write(data[i : i + 37])
    done = log.close()
    text = (tmp_path / "log.txt").read_bytes()
    assert text.startswith(data[:10])
    assert text.endswith(data[-8:])
    assert b"[r2o: 10222 bytes of output elided here" in text
    assert (done.total_bytes, done.elided_bytes) == (10240, 10222)
    # no rolling segment is left behind, and the file holds head + marker + tail only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt"]
    assert len(text) < 10 + 8 + 200


def test_the_disk_never_holds_more_than_head_and_two_tails(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "log.txt", head=1000, tail=1000)
    for _ in range(100):
        log.write(b"x" * 333)
        assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 3000
    log.close()


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=0, max_size=50), max_size=40),
    head=st.integers(0, 60),
    tail=st.integers(1, 60),
)
def test_head_and_tail_are_exact_for_any_chunking(
    tmp_path_factory: pytest.TempPathFactory, chunks: list[bytes], head: int, tail: int
) -> None:
    folder = tmp_path_factory.mktemp("log")
    log = CappedLog(folder / "log.txt", head=head, tail=tail)
    for chunk in chunks:
        log.write(chunk)
    done = log.close()
    data = b"".join(chunks)
    text = (folder / "log.txt").read_bytes()
    if len(data) <= head + tail:
        assert text == data and done.elided_bytes == 0
    else:
        assert text.startswith(data[:head]) and text.endswith(data[-tail:])
        assert done.elided_bytes == len(data) - head - tail
