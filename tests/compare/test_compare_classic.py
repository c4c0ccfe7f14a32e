"""The truncation check for classic netCDF files agrees with the library on every layout."""

from __future__ import annotations

import struct
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from r2o.compare import compare
from r2o.compare.classic import expected_size, extents
from r2o.errors import CannotCompareError

FORMATS = ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"]


def write(path: Path, fmt: str, layout: str) -> Path:
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.title = "layout " + layout
        ds.createDimension("t", None)
        ds.createDimension("y", 3)
        ds.createDimension("c", 5)
        if layout in ("fixed", "mixed"):
            ds.createVariable("grid", "f8", ("y",))[:] = [1.0, 2.0, 3.0]
            ds.createVariable("label", "S1", ("c",))[:] = np.array(list(b"abcde"), dtype="S1")
        if layout in ("one-record", "mixed", "records"):
            ds.createVariable("T", "f4", ("t", "y"))[:] = np.arange(12, dtype="f4").reshape(4, 3)
        if layout in ("records", "mixed"):
            v = ds.createVariable("flag", "i1", ("t",))
            v.units = "1"
            v[:] = np.arange(4, dtype="i1")
            ds.createVariable("name", "S1", ("t", "c"))[:] = np.array([list(b"xyzzy")] * 4, dtype="S1")
        if layout == "one-record":
            ds.createVariable("odd", "i2", ("t", "c"))  # written nowhere: still part of the records
    return path


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", ["fixed", "one-record", "records", "mixed"])
def test_expected_size_matches_library_files(tmp_path: Path, fmt: str, layout: str) -> None:
    path = write(tmp_path / "f.nc", fmt, layout)
    need = expected_size(path)
    assert need is not None
    assert need <= path.stat().st_size <= need + 8  # at most the final record's padding
    assert compare(path, write(tmp_path / "g.nc", fmt, layout)).equal
    cut = tmp_path / "cut.nc"
    cut.write_bytes(path.read_bytes()[: need - 1])
    with pytest.raises(CannotCompareError, match="truncated"):
        compare(path, cut)


def test_header_cut_short(tmp_path: Path) -> None:
    path = write(tmp_path / "f.nc", "NETCDF3_CLASSIC", "mixed")
    cut = tmp_path / "cut.nc"
    cut.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CannotCompareError):
        compare(path, cut)


def test_a_corrupt_name_length_is_an_error_not_a_huge_allocation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nc"
    # CDF-1, 0 records, a dimension list of 1 whose name claims 2 GiB
    bad.write_bytes(b"CDF\x01" + struct.pack(">IIII", 0, 0x0A, 1, 0x7FFFFFFF) + b"x" * 64)
    with pytest.raises(CannotCompareError, match="header is corrupt"):
        expected_size(bad)
    assert extents(bad, ["/T"]) == {}
