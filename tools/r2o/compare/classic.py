"""Truncation check for classic netCDF files (CDF-1, CDF-2, CDF-5).

The netCDF library reads a classic file whose data section was cut short without complaint (the
missing values come back as fill), so the header is parsed here to learn where the data of each
variable ends and the file size is checked against it. Format: the NetCDF Classic Format
Specification (header = magic numrecs dim_list gatt_list var_list, big-endian).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import BinaryIO

from r2o.errors import CannotCompareError

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_STREAMING = 0xFFFFFFFF


class _Header:
    def __init__(self, f: BinaryIO, path: Path) -> None:
        self.f = f
        self.path = path
        magic = f.read(4)
        self.version = magic[3] if len(magic) == 4 else 0
        self.wide = self.version == 5  # CDF-5: 8-byte counts and sizes

    def _int(self, size: int) -> int:
        data = self.f.read(size)
        if len(data) != size:
            raise CannotCompareError(
                f"{self.path}: the netCDF header is truncated",
                hint="the file is incomplete; regenerate or copy it again",
            )
        value: int = struct.unpack(">Q" if size == 8 else ">I", data)[0]
        return value

    def count(self) -> int:
        return self._int(8 if self.wide else 4)

    def skip(self, n: int) -> None:
        self.f.seek(n, 1)

    def name(self) -> None:
        self.skip(_pad(self.count()))

    def attributes(self) -> None:
        self._int(4)  # NC_ATTRIBUTE tag or ABSENT
        for _ in range(self.count()):
            self.name()
            size = _TYPE_SIZES.get(self._int(4), 1)
            self.skip(_pad(self.count() * size))


def _pad(n: int) -> int:
    return (n + 3) // 4 * 4


def expected_size(path: Path) -> int | None:
    """Bytes a classic file must have for all its data to be present; None when not knowable."""
    with path.open("rb") as f:
        h = _Header(f, path)
        if h.version not in (1, 2, 5):
            return None
        numrecs = h.count()
        h._int(4)  # NC_DIMENSION tag or ABSENT
        dims: list[int] = []
        for _ in range(h.count()):
            h.name()
            dims.append(h.count())
        h.attributes()
        h._int(4)  # NC_VARIABLE tag or ABSENT
        variables: list[tuple[bool, int, int, int]] = []  # (record, vsize, begin, data bytes)
        for _ in range(h.count()):
            h.name()
            dimids = [h.count() for _ in range(h.count())]
            h.attributes()
            size = _TYPE_SIZES.get(h._int(4), 1)
            vsize = h.count()
            begin = h._int(4 if h.version == 1 else 8)
            record = bool(dimids) and dimids[0] < len(dims) and dims[dimids[0]] == 0
            shape = [dims[i] for i in dimids[1:]] if record else [dims[i] for i in dimids if i < len(dims)]
            variables.append((record, vsize, begin, math.prod(shape) * size))
    if numrecs == _STREAMING and not h.wide:
        return None
    records = [v for v in variables if v[0]]
    recsize = records[0][3] if len(records) == 1 else sum(v[1] for v in records)
    end = 0
    for record, _, begin, nbytes in variables:
        if record:
            if numrecs:
                end = max(end, begin + (numrecs - 1) * recsize + nbytes)
        else:
            end = max(end, begin + nbytes)
    return end


def check_complete(path: Path) -> None:
    """Raise CannotCompareError when a classic file is shorter than its header says."""
    try:
        need = expected_size(path)
    except (OSError, struct.error, IndexError):
        return  # the library's own open already vouched for the header; do not guess further
    have = path.stat().st_size
    if need is not None and have < need:
        raise CannotCompareError(
            f"{path}: truncated: the header describes {need:,} bytes of data but the file has {have:,}",
            hint="an interrupted run or copy leaves a short file; regenerate or copy it again",
        )
