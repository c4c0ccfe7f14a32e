"""A component's log, streamed to a file with a cap: the first and the last bytes kept.

A component may print without end (a 2 GiB flood is one loop away). r2o never holds its output in
memory: every chunk goes straight to disk. The log keeps the first ``head`` bytes and the last
``tail`` bytes, with a marker saying how much was elided between them: the start shows how the run
began, the end how it failed. The tail is kept in at most two rolling segment files of ``tail``
bytes each, so disk use is bounded too (head + 2 * tail while running, head + tail after).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MIB = 1 << 20
HEAD_BYTES = 4 * MIB
TAIL_BYTES = 4 * MIB
TAIL_READ = 64 * 1024  # bytes read back for the "last lines" of an error message


@dataclass(frozen=True)
class LogFile:
    path: Path
    total_bytes: int  # what the component wrote
    elided_bytes: int  # what the cap dropped

    def tail(self, lines: int) -> str:
        """The last ``lines`` lines, decoded leniently."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - TAIL_READ))
                data = fh.read()
        except OSError:
            return ""
        text = data.decode("utf-8", "replace").rstrip("\n")
        return "\n".join(text.splitlines()[-lines:])


class CappedLog:
    """A write-only log file keeping the first ``head`` and the last ``tail`` bytes."""

    def __init__(self, path: Path, *, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.path = path
        self.head = head
        self.tail = tail
        self.total = 0
        self._fh: IO[bytes] = _create(path)
        self._segments: deque[tuple[Path, IO[bytes]]] = deque()
        self._segment_bytes = 0
        self._serial = 0
        self._closed: LogFile | None = None

    def write(self, chunk: bytes) -> None:
        if self._closed is not None or not chunk:
            return
        view = memoryview(chunk)
        room = self.head - self.total
        self.total += len(view)
        if room > 0:
            self._fh.write(view[:room])
            self._fh.flush()  # readable at once: the service follows a running task's log
            view = view[room:]
        while view:
            if not self._segments or self._segment_bytes >= self.tail:
                self._roll()
            take = min(len(view), self.tail - self._segment_bytes)
            self._segments[-1][1].write(view[:take])
            self._segment_bytes += take
            view = view[take:]

    def _roll(self) -> None:
        if len(self._segments) == 2:
            old_path, old_fh = self._segments.popleft()
            old_fh.close()
            old_path.unlink(missing_ok=True)
        self._serial += 1
        seg = self.path.with_name(f".{self.path.name}.tail{self._serial}")
        self._segments.append((seg, _create(seg)))
        self._segment_bytes = 0

    def close(self) -> LogFile:
        """Finish the file: head, an elision marker if bytes were dropped, then the tail."""
        if self._closed is not None:
            return self._closed
        tail_total = max(0, self.total - self.head)
        elided = max(0, tail_total - self.tail)
        for _, fh in self._segments:
            fh.flush()
        if elided:
            self._fh.write(
                f"\n[r2o: {elided} bytes of output elided here; the log keeps the first {self.head} "
                f"and the last {self.tail} bytes]\n".encode()
            )
        # The last `tail` bytes are the end of the older segment plus all of the newer one.
        skip = max(0, sum(_size(p) for p, _ in self._segments) - self.tail)
        for seg_path, fh in self._segments:
            fh.close()
            with seg_path.open("rb") as src:
                size = _size(seg_path)
                if skip >= size:
                    skip -= size
                else:
                    src.seek(skip)
                    skip = 0
                    while block := src.read(MIB):
                        self._fh.write(block)
            seg_path.unlink(missing_ok=True)
        self._segments.clear()
        self._fh.close()
        self._closed = LogFile(self.path, self.total, elided)
        return self._closed


def _create(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    return os.fdopen(fd, "wb")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
