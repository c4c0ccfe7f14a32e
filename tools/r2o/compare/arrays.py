"""NumPy ``.npy`` and ``.npz`` files.

A ``.npy`` file is memory-mapped and compared in slabs, like a netCDF variable (no fill values, no
packing). An ``.npz`` archive is compared member by member (``per_name`` keys are member names
without ``.npy``); each member is loaded whole, so memory is bounded by the largest member.
Pickled object arrays are refused: loading them could run arbitrary code.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from r2o.compare.report import Comparison, Difference, FieldReport, Location
from r2o.compare.rules import CompareRules
from r2o.compare.values import FieldStats, Point, ValueContext, kind_of, process_slab, slab_shape
from r2o.errors import CannotCompareError

_HINT = (
    "check that the file is complete (an interrupted run or copy leaves a short file)"
    " and was written by numpy.save/savez"
)


def _load_npy(path: Path) -> Any:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise CannotCompareError(f"{path}: cannot be read as .npy: {exc}", hint=_HINT) from exc


def compare_arrays(
    name: str, xa: Any, xb: Any, rules: CompareRules, differences: list[Difference]
) -> FieldReport | None:
    """Compare two arrays (possibly memory-mapped) slab by slab; None when shapes differ."""
    where = f"array {name}" if name else "array"
    if xa.dtype != xb.dtype:
        differences.append(Difference(where, f"dtype a={xa.dtype} b={xb.dtype}"))
    if xa.shape != xb.shape:
        differences.append(Difference(where, f"shape a={xa.shape} b={xb.shape}; values not compared"))
        return None
    tol = rules.tolerance_for(name)
    kind_a, kind_b = kind_of(xa.dtype), kind_of(xb.dtype)
    ctx = ValueContext(tol, rules.nan_equal, kind_a, kind_b, same_storage=xa.dtype == xb.dtype)
    stats = FieldStats()
    shape = tuple(xa.shape)
    slab = slab_shape(shape, max(xa.dtype.itemsize, xb.dtype.itemsize, 1), None)
    grid = [range(0, n, s) for n, s in zip(shape, slab, strict=True)]
    starts: Any = np.ndindex(*[len(g) for g in grid]) if shape else [()]
    for cell in starts:
        key = tuple(slice(g[c], min(g[c] + s, n)) for g, c, s, n in zip(grid, cell, slab, shape, strict=True))
        sa, sb = np.asarray(xa[key]), np.asarray(xb[key])
        sizes = sa.shape
        first = [k.start for k in key]

        def to_global(local: int, sizes: tuple[int, ...] = sizes, first: list[int] = first) -> int:
            if not shape:
                return 0
            cell_ = np.unravel_index(local, sizes)
            return int(np.ravel_multi_index([int(c) + f for c, f in zip(cell_, first, strict=True)], shape))

        try:
            process_slab(stats, sa, sb, ctx, to_global)
        except OSError as exc:
            raise CannotCompareError(f"array {name}: cannot read values: {exc}", hint=_HINT) from exc

    def locate(p: Point) -> Location:
        index = tuple(int(i) for i in np.unravel_index(p[0], shape)) if shape else ()
        return Location(index=index, a=p[1], b=p[2])

    return stats.report(name or "array", tol, shape=shape, dtype=str(xa.dtype), locate=locate)


def compare_npy(a: Path, b: Path, rules: CompareRules) -> Comparison:
    xa, xb = _load_npy(a), _load_npy(b)
    differences: list[Difference] = []
    report = compare_arrays("", xa, xb, rules, differences)
    fields = (report,) if report is not None else ()
    equal = not differences and all(f.equal for f in fields)
    return Comparison(equal, "npy", a, b, differences=tuple(differences), fields=fields)


@contextmanager
def _open_npz(path: Path) -> Iterator[Any]:
    # numpy leaks its own file handle when the archive is damaged: hand it one we close ourselves
    with path.open("rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise CannotCompareError(f"{path}: cannot be read as .npz: {exc}", hint=_HINT) from exc
        with archive:
            yield archive


def _member(archive: Any, path: Path, name: str) -> Any:
    try:
        return archive[name]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CannotCompareError(f"{path}: member {name} cannot be read: {exc}", hint=_HINT) from exc


def compare_npz(a: Path, b: Path, rules: CompareRules) -> Comparison:
    differences: list[Difference] = []
    fields: list[FieldReport] = []
    with _open_npz(a) as za, _open_npz(b) as zb:
        names_a, names_b = set(za.files), set(zb.files)
        rules.saw(*names_a, *names_b)
        for name in sorted(names_a | names_b):
            if name not in names_b:
                differences.append(Difference(f"array {name}", "only in a"))
            elif name not in names_a:
                differences.append(Difference(f"array {name}", "only in b"))
            else:
                report = compare_arrays(name, _member(za, a, name), _member(zb, b, name), rules, differences)
                if report is not None:
                    fields.append(report)
    equal = not differences and all(f.equal for f in fields)
    return Comparison(equal, "npz", a, b, differences=tuple(differences), fields=tuple(fields))


__all__ = ["compare_arrays", "compare_npy", "compare_npz"]
