"""Where the bytes of contiguous netCDF-4 variables sit in their file, asked of HDF5 itself.

Reading a large uncompressed variable through netCDF4-python costs several times more CPU than
reading its bytes with ``pread`` into a reused buffer (measured: 1.5 s against 0.25 s for 2 GiB).
For contiguous, allocated datasets HDF5 reports the file offset (``H5Dget_offset``); the compare
engine then reads those bytes directly. Only the HDF5 library that netCDF4 itself loaded is used
(found in ``/proc/self/maps``), so no second copy of HDF5 ever touches the file. Anything
unexpected (no such library, a failed call, an unallocated dataset) yields no extent, and the
caller reads through netCDF4 as usual.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from r2o.compare.extents import Extent

_HADDR_UNDEF = 2**64 - 1
_H5F_ACC_RDONLY = 0
_H5P_DEFAULT = 0
_H5T_ORDER_LE = 0
_H5T_ORDER_BE = 1


_LIB: ctypes.CDLL | None = None
_LOADED = False


def _library() -> ctypes.CDLL | None:
    global _LIB, _LOADED
    if _LOADED:
        return _LIB
    _LOADED = True
    if os.environ.get("R2O_COMPARE_RAW", "1") == "0" or not sys.platform.startswith("linux"):
        return None
    import netCDF4  # noqa: F401  (loads the HDF5 library we look for)

    path = None
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                name = line.rsplit(None, 1)[-1] if line.strip() else ""
                base = os.path.basename(name)
                if base.startswith("libhdf5") and not base.startswith("libhdf5_hl") and ".so" in base:
                    path = name
                    break
    except OSError:
        return None
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        hid = ctypes.c_int64
        lib.H5open.restype = ctypes.c_int
        lib.H5Fopen.restype = hid
        lib.H5Fopen.argtypes = [ctypes.c_char_p, ctypes.c_uint, hid]
        lib.H5Fclose.argtypes = [hid]
        lib.H5Dopen2.restype = hid
        lib.H5Dopen2.argtypes = [hid, ctypes.c_char_p, hid]
        lib.H5Dclose.argtypes = [hid]
        lib.H5Dget_offset.restype = ctypes.c_uint64
        lib.H5Dget_offset.argtypes = [hid]
        lib.H5Dget_storage_size.restype = ctypes.c_uint64
        lib.H5Dget_storage_size.argtypes = [hid]
        lib.H5Dget_type.restype = hid
        lib.H5Dget_type.argtypes = [hid]
        lib.H5Tget_order.restype = ctypes.c_int
        lib.H5Tget_order.argtypes = [hid]
        lib.H5Tclose.argtypes = [hid]
        lib.H5Eset_auto2.argtypes = [hid, ctypes.c_void_p, ctypes.c_void_p]
        if lib.H5open() < 0:
            return None
        lib.H5Eset_auto2(0, None, None)  # a dataset we cannot open is expected, not worth a stack dump
    except (OSError, AttributeError):
        return None
    _LIB = lib
    return lib


def contiguous_extents(path: Path, variables: Iterable[str]) -> dict[str, Extent]:
    """Extents of the given variables ("/grp/name") that are stored contiguously in ``path``."""
    lib = _library()
    if lib is None:
        return {}
    fid = lib.H5Fopen(os.fsencode(path), _H5F_ACC_RDONLY, _H5P_DEFAULT)
    if fid < 0:
        return {}
    found: dict[str, Extent] = {}
    try:
        for var in variables:
            group, _, name = var.rpartition("/")
            # netCDF-4 renames a variable that shares a dimension's name without being its coordinate
            for candidate in (var, f"{group}/_nc4_non_coord_{name}"):
                did = lib.H5Dopen2(fid, candidate.encode(), _H5P_DEFAULT)
                if did < 0:
                    continue
                try:
                    offset = int(lib.H5Dget_offset(did))
                    nbytes = int(lib.H5Dget_storage_size(did))
                    tid = lib.H5Dget_type(did)
                    order = lib.H5Tget_order(tid) if tid >= 0 else -1
                    if tid >= 0:
                        lib.H5Tclose(tid)
                finally:
                    lib.H5Dclose(did)
                if offset != _HADDR_UNDEF and order in (_H5T_ORDER_LE, _H5T_ORDER_BE):
                    found[var] = Extent(offset, nbytes, "<" if order == _H5T_ORDER_LE else ">")
                break
    finally:
        lib.H5Fclose(fid)
    return found
