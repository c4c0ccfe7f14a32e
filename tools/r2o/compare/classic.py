"""The layout of classic netCDF files (CDF-1, CDF-2, CDF-5): truncation check and data extents.

The netCDF library reads a classic file whose data section was cut short without complaint (the
missing values come back as fill), so the header is parsed here to learn where the data of each
variable ends and the file size is checked against it. The same parse gives each variable's
:class:`~r2o.compare.extents.Extent`, so the compare engine reads values directly. Format: the
NetCDF Classic Format Specification (header = magic numrecs dim_list gatt_list var_list; all
values big-endian; record variables interleaved record by record).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from r2o.compare.extents import Extent
from r2o.errors import CannotCompareError

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_STREAMING = 0xFFFFFFFF
_MAX_NAME = 4096  # NC_MAX_NAME is 256; leave room for libraries that allow longer names


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

    def name(self) -> str:
        n = self.count()
        if n > _MAX_NAME:  # netCDF allows 256 bytes; a larger count is a corrupt header, not a name
            raise CannotCompareError(
                f"{self.path}: the netCDF header is corrupt (a name of {n:,} bytes)",
                hint="the file is damaged; regenerate or copy it again",
            )
        raw = self.f.read(_pad(n))
        return raw[:n].decode("utf-8", "replace")

    def attributes(self) -> None:
        self._int(4)  # NC_ATTRIBUTE tag or ABSENT
        for _ in range(self.count()):
            self.name()
            size = _TYPE_SIZES.get(self._int(4), 1)
            self.skip(_pad(self.count() * size))


def _pad(n: int) -> int:
    return (n + 3) // 4 * 4


@dataclass(frozen=True)
class _Variable:
    name: str
    record: bool
    begin: int
    nbytes: int  # all values of a fixed-size variable; one record's values of a record variable


@dataclass(frozen=True)
class _Layout:
    numrecs: int | None  # None while a streaming writer has not recorded the count
    variables: tuple[_Variable, ...]

    @property
    def record_stride(self) -> int:
        """Bytes of one record: each record variable's share padded to 4 bytes, unless it is alone."""
        records = [v for v in self.variables if v.record]
        if len(records) == 1:
            return records[0].nbytes
        return sum(_pad(v.nbytes) for v in records)


def _layout(path: Path) -> _Layout | None:
    """The header of a classic file; None when it is not one."""
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
        variables: list[_Variable] = []
        for _ in range(h.count()):
            name = h.name()
            dimids = [h.count() for _ in range(h.count())]
            h.attributes()
            size = _TYPE_SIZES.get(h._int(4), 1)
            h.count()  # vsize: recomputed from the shape, it saturates for variables over 4 GiB
            begin = h._int(4 if h.version == 1 else 8)
            record = bool(dimids) and dimids[0] < len(dims) and dims[dimids[0]] == 0
            shape = [dims[i] for i in dimids[1:]] if record else [dims[i] for i in dimids if i < len(dims)]
            variables.append(_Variable(name, record, begin, math.prod(shape) * size))
    streaming = numrecs == _STREAMING and not h.wide
    return _Layout(None if streaming else numrecs, tuple(variables))


def expected_size(path: Path) -> int | None:
    """Bytes a classic file must have for all its data to be present; None when not knowable."""
    layout = _layout(path)
    if layout is None or layout.numrecs is None:
        return None
    end = 0
    for v in layout.variables:
        if v.record:
            if layout.numrecs:
                end = max(end, v.begin + (layout.numrecs - 1) * layout.record_stride + v.nbytes)
        else:
            end = max(end, v.begin + v.nbytes)
    return end


def extents(path: Path, names: Iterable[str]) -> dict[str, Extent]:
    """Extents of the named variables ("/name"); a record variable only when the record count is known."""
    try:
        layout = _layout(path)
    except (OSError, struct.error, CannotCompareError):
        return {}
    if layout is None:
        return {}
    wanted = set(names)
    found: dict[str, Extent] = {}
    for v in layout.variables:
        key = "/" + v.name
        if key not in wanted:
            continue
        if not v.record:
            found[key] = Extent(v.begin, v.nbytes, ">")
        elif layout.numrecs is not None and v.nbytes > 0:
            found[key] = Extent(
                v.begin,
                layout.numrecs * v.nbytes,
                ">",
                record_bytes=v.nbytes,
                record_stride=layout.record_stride,
            )
    return found


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
