"""Bit-for-bit comparison of two files, streamed in blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from r2o.compare.report import Comparison, Difference
from r2o.errors import CannotCompareError

BLOCK_BYTES = 1 << 20


def compare_bytes(a: Path, b: Path, kind: str = "binary") -> Comparison:
    """Equal when both files hold the same bytes; reports sizes, the first differing offset and how
    many bytes differ over the common length."""
    first: int | None = None
    differing = 0
    offset = 0
    try:
        with a.open("rb") as fa, b.open("rb") as fb:
            while True:
                ba, bb = fa.read(BLOCK_BYTES), fb.read(BLOCK_BYTES)
                if not ba or not bb:
                    break
                n = min(len(ba), len(bb))
                if ba[:n] != bb[:n]:
                    ne = np.frombuffer(ba, np.uint8, n) != np.frombuffer(bb, np.uint8, n)
                    differing += int(np.count_nonzero(ne))
                    if first is None:
                        first = offset + int(np.argmax(ne))
                offset += n
                if len(ba) != len(bb):
                    break
    except OSError as exc:
        raise CannotCompareError(
            f"cannot read {exc.filename or f'{a} or {b}'}: {exc.strerror or exc}",
            hint="check the path and its permissions",
        ) from exc
    size_a, size_b = a.stat().st_size, b.stat().st_size
    differences: list[Difference] = []
    if size_a != size_b:
        differences.append(Difference("size", f"a has {size_a:,} bytes, b has {size_b:,}"))
    if first is not None:
        differences.append(
            Difference("bytes", f"{differing:,} bytes differ; first at offset {first:,} (0x{first:x})")
        )
    return Comparison(
        not differences, kind, a, b, differences=tuple(differences), notes=("compared bit for bit",)
    )
