"""netCDF comparison (netCDF-4/HDF5 and classic CDF-1/2/5): structure, attributes, values.

Structure: groups, dimensions (name, length, unlimited), variables present, their dimensions,
dtypes and shapes, and attributes (global and per variable) except those the rules ignore.
Values: every variable present in both files with the same shape is read in slabs of at most
:data:`r2o.compare.values.SLAB_BYTES` per file (aligned on HDF5 chunks) and compared by
:func:`r2o.compare.values.process_slab`, so memory stays bounded whatever the file size.

Reading: a variable whose values lie uncompressed in both files is read with ``pread`` at the byte
extents HDF5 reports for a contiguous netCDF-4 dataset (:mod:`r2o.compare.hdf5_layout`) or the
classic header gives (:mod:`r2o.compare.classic`; record variables record by record; big-endian
values swapped in place), after its first and last values read that way were checked against
netCDF4's; every other variable is read through netCDF4 with automatic masking and scaling off
(fill values and packing are applied by the rules instead).
Classic files are checked for truncation first (:mod:`r2o.compare.classic`). Large files are split
among forked worker processes (one per available core, at most :data:`MAX_WORKERS`);
``R2O_COMPARE_WORKERS=1`` turns that off, ``R2O_COMPARE_RAW=0`` the direct reads.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from r2o.compare import classic
from r2o.compare.classic import check_complete
from r2o.compare.extents import Extent
from r2o.compare.hdf5_layout import contiguous_extents
from r2o.compare.report import Comparison, Difference, FieldReport, Location
from r2o.compare.rules import CompareRules
from r2o.compare.values import FieldStats, Point, ValueContext, kind_of, process_slab, slab_shape
from r2o.errors import CannotCompareError, R2OError

_NATIVE = "<" if sys.byteorder == "little" else ">"

#: Below this many bytes of variable data a single process is faster than forking workers.
PARALLEL_MIN_BYTES = 64 << 20
MAX_WORKERS = 4

_HINT = (
    "check that the file is complete (an interrupted run or copy leaves a short file) and that it "
    "is netCDF: `ncdump -h FILE` shows whether its header is readable"
)


@dataclass(frozen=True)
class VariablePlan:
    """How one variable present in both files is read and compared: picklable for workers."""

    path: str  # "/grp/name"; "/name" at the root
    shape: tuple[int, ...]
    slab: tuple[int, ...]
    itemsize: int
    ctx: ValueContext
    dtype: str
    dims: tuple[str, ...]
    # direct reads of uncompressed data (see extents): probes taken through netCDF4, then the byte
    # extents in each file once HDF5 or the classic header has located them
    probes: tuple[bytes, bytes, bytes, bytes] | None = None  # a first, a last, b first, b last
    raw_a: Extent | None = None
    raw_b: Extent | None = None

    @property
    def raw(self) -> bool:
        return self.raw_a is not None and self.raw_b is not None

    @property
    def name(self) -> str:
        return self.path.lstrip("/")

    @property
    def native_dtype(self) -> np.dtype[Any]:
        """The stored type in this machine's byte order: what direct reads return."""
        return np.dtype(self.dtype).newbyteorder("=")

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(n / s) if s else 0 for n, s in zip(self.shape, self.slab, strict=True))

    @property
    def n_slabs(self) -> int:
        return math.prod(self.grid) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.itemsize

    def slab_key(self, ordinal: int) -> tuple[slice, ...]:
        if not self.shape:
            return ()
        cell = np.unravel_index(ordinal, self.grid)
        return tuple(
            slice(int(c) * s, min(int(c) * s + s, n))
            for c, s, n in zip(cell, self.slab, self.shape, strict=True)
        )


def compare_netcdf(a: Path, b: Path, rules: CompareRules) -> Comparison:
    differences: list[Difference] = []
    plans: list[VariablePlan] = []
    notes: list[str] = []
    with _open(a) as da, _open(b) as db:
        models = (str(da.data_model), str(db.data_model))
        if models[0] != models[1]:  # the storage format alone does not change the content
            notes.append(f"file formats differ: a is {models[0]}, b is {models[1]}")
        _compare_group(da, db, "/", rules, differences, plans)
    plans = _locate_raw((a, b), models, plans)

    stats = run_plans(a, b, plans)
    fields: list[FieldReport] = []
    coords = _CoordinateReader(a)
    try:
        for plan, st in zip(plans, stats, strict=True):

            def locate(p: Point, plan: VariablePlan = plan) -> Location:
                return coords.locate(plan, p)

            fields.append(
                st.report(
                    plan.name,
                    plan.ctx.tol,
                    shape=plan.shape,
                    dtype=plan.dtype,
                    locate=locate if not st.equal or st.not_identical else None,
                )
            )
    finally:
        coords.close()
    equal = not differences and all(f.equal for f in fields)
    return Comparison(
        equal, "netcdf", a, b, differences=tuple(differences), fields=tuple(fields), notes=tuple(notes)
    )


@contextmanager
def _open(path: Path) -> Iterator[Any]:
    try:
        ds = netCDF4.Dataset(str(path), "r")
    except (OSError, RuntimeError, ValueError) as exc:
        raise CannotCompareError(f"{path}: cannot be read as netCDF: {exc}", hint=_HINT) from exc
    try:
        if str(ds.data_model).startswith("NETCDF3"):
            check_complete(path)
        ds.set_auto_maskandscale(False)
        ds.set_auto_chartostring(False)
        yield ds
    finally:
        ds.close()


def _attributes(obj: Any, rules: CompareRules) -> dict[str, Any]:
    return {k: obj.getncattr(k) for k in obj.ncattrs() if not rules.ignores_attribute(k)}


def _same_attribute(x: Any, y: Any) -> bool:
    if isinstance(x, str) or isinstance(y, str):
        return isinstance(x, str) and isinstance(y, str) and x == y
    ax, ay = np.asarray(x), np.asarray(y)
    if ax.dtype != ay.dtype or ax.shape != ay.shape:
        return False
    return bool(np.array_equal(ax, ay, equal_nan=ax.dtype.kind in "fc"))


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray | np.generic) else value)
    return text if len(text) <= 80 else text[:77] + "..."


def _compare_attributes(
    where: str, aa: dict[str, Any], ab: dict[str, Any], differences: list[Difference]
) -> None:
    for name in sorted(aa.keys() | ab.keys()):
        if name not in ab:
            differences.append(Difference(f"{where}attribute {name}", f"only in a ({_short(aa[name])})"))
        elif name not in aa:
            differences.append(Difference(f"{where}attribute {name}", f"only in b ({_short(ab[name])})"))
        elif not _same_attribute(aa[name], ab[name]):
            differences.append(
                Difference(f"{where}attribute {name}", f"a={_short(aa[name])} b={_short(ab[name])}")
            )


def _compare_group(
    ga: Any,
    gb: Any,
    prefix: str,
    rules: CompareRules,
    differences: list[Difference],
    plans: list[VariablePlan],
) -> None:
    label = "" if prefix == "/" else f"group {prefix.rstrip('/')}: "
    _compare_attributes(label + "global ", _attributes(ga, rules), _attributes(gb, rules), differences)

    for name in sorted(ga.dimensions.keys() | gb.dimensions.keys()):
        where = f"{label}dimension {name}"
        if name not in gb.dimensions:
            differences.append(Difference(where, f"only in a (length {len(ga.dimensions[name])})"))
        elif name not in ga.dimensions:
            differences.append(Difference(where, f"only in b (length {len(gb.dimensions[name])})"))
        else:
            da, db = ga.dimensions[name], gb.dimensions[name]
            if len(da) != len(db):
                differences.append(Difference(where, f"length a={len(da)} b={len(db)}"))
            if da.isunlimited() != db.isunlimited():
                state = {True: "unlimited", False: "fixed"}
                differences.append(
                    Difference(where, f"a is {state[da.isunlimited()]}, b is {state[db.isunlimited()]}")
                )

    for name in sorted(ga.variables.keys() | gb.variables.keys()):
        where = f"variable {prefix.lstrip('/')}{name}"
        rules.saw(name, f"{prefix.lstrip('/')}{name}")
        if name not in gb.variables:
            differences.append(Difference(where, "only in a"))
            continue
        if name not in ga.variables:
            differences.append(Difference(where, "only in b"))
            continue
        va, vb = ga.variables[name], gb.variables[name]
        _compare_attributes(where + ": ", _attributes(va, rules), _attributes(vb, rules), differences)
        if va.dimensions != vb.dimensions:
            differences.append(Difference(where, f"dimensions a={va.dimensions} b={vb.dimensions}"))
        dta, dtb = _dtype(va), _dtype(vb)
        if dta != dtb:
            differences.append(Difference(where, f"dtype a={dta} b={dtb}"))
        if va.shape != vb.shape:
            differences.append(Difference(where, f"shape a={va.shape} b={vb.shape}; values not compared"))
            continue
        plans.append(_plan(va, vb, prefix + name, rules))

    for name in sorted(ga.groups.keys() | gb.groups.keys()):
        if name not in gb.groups:
            differences.append(Difference(f"group {prefix}{name}", "only in a"))
        elif name not in ga.groups:
            differences.append(Difference(f"group {prefix}{name}", "only in b"))
        else:
            _compare_group(ga.groups[name], gb.groups[name], f"{prefix}{name}/", rules, differences, plans)


def _dtype(var: Any) -> str:
    dt = var.dtype
    if dt is str:
        return "string"
    if isinstance(dt, np.dtype):
        return str(dt)
    return str(getattr(dt, "name", dt))  # compound / vlen / enum types


def _numpy_dtype(var: Any) -> np.dtype[Any]:
    dt = var.dtype
    return dt if isinstance(dt, np.dtype) else np.dtype(object)


def _fill(var: Any, dtype: np.dtype[Any]) -> Any:
    attrs = var.ncattrs()
    for name in ("_FillValue", "missing_value"):
        if name in attrs:
            value = np.asarray(var.getncattr(name))
            if value.size and value.dtype.kind in "fiub":
                return value.reshape(-1)[0].astype(dtype) if dtype.kind in "fiub" else None
    # the netCDF default fill marks never-written values; like netCDF4-python, not for byte types
    if dtype.kind in "fiu" and dtype.itemsize > 1:
        key = dtype.str[1:]
        if key in netCDF4.default_fillvals:
            return np.array(netCDF4.default_fillvals[key]).astype(dtype)
    return None


def _packing(var: Any) -> tuple[float, float] | None:
    attrs = var.ncattrs()
    if "scale_factor" not in attrs and "add_offset" not in attrs:
        return None
    scale = (
        float(np.asarray(var.getncattr("scale_factor")).reshape(-1)[0]) if "scale_factor" in attrs else 1.0
    )
    offset = float(np.asarray(var.getncattr("add_offset")).reshape(-1)[0]) if "add_offset" in attrs else 0.0
    return (scale, offset)


def _plan(va: Any, vb: Any, path: str, rules: CompareRules) -> VariablePlan:
    dta, dtb = _numpy_dtype(va), _numpy_dtype(vb)
    fill_a, fill_b = _fill(va, dta), _fill(vb, dtb)
    pack_a, pack_b = _packing(va), _packing(vb)
    same_fill = (fill_a is None and fill_b is None) or (
        fill_a is not None and fill_b is not None and fill_a.tobytes() == fill_b.tobytes()
    )
    ctx = ValueContext(
        tol=rules.tolerance_for(path.lstrip("/")),
        nan_equal=rules.nan_equal,
        kind_a=kind_of(dta),
        kind_b=kind_of(dtb),
        fill_a=fill_a,
        fill_b=fill_b,
        scale_a=pack_a,
        scale_b=pack_b,
        same_storage=dta == dtb and same_fill and pack_a == pack_b,
    )
    chunks = va.chunking()
    itemsize = max(dta.itemsize, dtb.itemsize, 1) if dta.kind != "O" else 64
    probes = None
    if (
        ctx.same_storage
        and dta.kind in "fiu"
        and va.ndim >= 1
        and all(n > 0 for n in va.shape)
        and chunks in ("contiguous", None)  # None: classic files, never chunked
        and vb.chunking() in ("contiguous", None)
    ):
        keys = _probe_keys(tuple(va.shape))
        try:
            native = dta.newbyteorder("=")  # direct reads swap to native order; so do the probes
            probes = tuple(
                np.ascontiguousarray(v[key], dtype=native).tobytes() for v in (va, vb) for key in keys
            )
        except (OSError, RuntimeError, IndexError, ValueError):
            probes = None  # the value pass will read this variable and report what is wrong
    return VariablePlan(
        path=path,
        shape=tuple(int(n) for n in va.shape),
        slab=slab_shape(
            tuple(va.shape), itemsize, tuple(chunks) if isinstance(chunks, list | tuple) else None
        ),
        itemsize=itemsize,
        ctx=ctx,
        dtype=_dtype(va),
        dims=tuple(va.dimensions),
        probes=probes,  # type: ignore[arg-type]
    )


def _probe_keys(shape: tuple[int, ...]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """The first and the last (up to) 16 values of a variable, as slabs."""
    k = min(16, shape[-1])
    head = (*(slice(0, 1) for _ in shape[:-1]), slice(0, k))
    tail = (*(slice(n - 1, n) for n in shape[:-1]), slice(shape[-1] - k, shape[-1]))
    return head, tail


# ---------------------------------------------------------------- running the value comparison


def _workers(total_bytes: int) -> int:
    env = os.environ.get("R2O_COMPARE_WORKERS", "")
    if env.strip().isdigit():
        wanted = max(1, int(env))
    else:
        wanted = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, MAX_WORKERS)
    # fork is the only cheap start method, and only safe on Linux
    if total_bytes < PARALLEL_MIN_BYTES or sys.platform != "linux":
        return 1
    return wanted


Unit = tuple[int, int, int]  # (plan index, first slab, end slab)


def split_work(plans: Sequence[VariablePlan], parts: int) -> list[list[Unit]]:
    """Cut the sequence of all slabs of all variables into ``parts`` runs of about equal bytes."""
    total = sum(p.nbytes for p in plans)
    target = total / parts if parts else total
    shares: list[list[Unit]] = [[] for _ in range(parts)]
    part, filled = 0, 0.0
    for i, plan in enumerate(plans):
        per_slab = plan.nbytes / plan.n_slabs if plan.n_slabs else 0.0
        start = 0
        while start < plan.n_slabs:
            if part == parts - 1 or per_slab == 0:
                end = plan.n_slabs
            else:
                room = max(1, round((target - filled) / per_slab))
                end = min(plan.n_slabs, start + room)
            shares[part].append((i, start, end))
            filled += (end - start) * per_slab
            start = end
            if part < parts - 1 and filled >= target * (part + 1) - per_slab / 2:
                part += 1
        if plan.n_slabs == 0:
            shares[part].append((i, 0, 0))
    return shares


def run_plans(a: Path, b: Path, plans: Sequence[VariablePlan]) -> list[FieldStats]:
    workers = _workers(sum(p.nbytes for p in plans))
    shares = split_work(plans, workers)
    if workers == 1:
        results = [_work(a, b, plans, shares[0])]
    else:
        ctx = multiprocessing.get_context("fork")
        children = []
        for share in shares[1:]:
            receiver, sender = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(sender, a, b, plans, share), daemon=True)
            proc.start()
            sender.close()
            children.append((proc, receiver))
        try:
            results = [_work(a, b, plans, shares[0])]
        finally:
            collected = [_collect(proc, receiver) for proc, receiver in children]
        results.extend(collected)
    merged = [FieldStats() for _ in plans]
    for result in results:
        for i, st in result.items():
            merged[i].merge(st)
    return merged


def _child(sender: Connection, a: Path, b: Path, plans: Sequence[VariablePlan], share: list[Unit]) -> None:
    try:
        sender.send(("ok", _work(a, b, plans, share)))
    except R2OError as exc:
        sender.send(("error", exc.message, exc.hint))
    except Exception as exc:  # a worker must report, never hang its parent
        sender.send(("error", f"{a} vs {b}: comparison worker failed: {exc!r}", ""))
    finally:
        sender.close()


def _collect(proc: Any, receiver: Connection) -> dict[int, FieldStats]:
    try:
        status, *payload = receiver.recv()
    except EOFError as exc:
        proc.join()
        raise CannotCompareError(
            f"a comparison worker died (exit code {proc.exitcode}) before reporting",
            hint="run again with R2O_COMPARE_WORKERS=1 to compare in a single process",
        ) from exc
    proc.join()
    if status != "ok":
        raise CannotCompareError(payload[0], hint=payload[1])
    result: dict[int, FieldStats] = payload[0]
    return result


def _locate_raw(
    paths: tuple[Path, Path], models: tuple[str, str], plans: list[VariablePlan]
) -> list[VariablePlan]:
    """Attach byte extents to the plans whose values lie uncompressed in both files, and whose first
    and last values read directly match what netCDF4 read (else: no extents, netCDF4 reads them)."""
    wanted = [p.path for p in plans if p.probes is not None]
    if not wanted:
        return plans
    ext_a = _extents(paths[0], models[0], wanted)
    ext_b = _extents(paths[1], models[1], wanted) if ext_a else {}
    if not ext_b:
        return plans
    located: list[VariablePlan] = []
    readers = (_RawReader(paths[0]), _RawReader(paths[1]))
    try:
        for plan in plans:
            ea, eb = ext_a.get(plan.path), ext_b.get(plan.path)
            if (
                plan.probes is None
                or ea is None
                or eb is None
                or not (ea.nbytes == eb.nbytes == plan.nbytes)
                or not {ea.order, eb.order} <= {"<", ">"}
            ):
                located.append(plan)
                continue
            dtype = plan.native_dtype
            try:
                probes = tuple(
                    reader.read(extent, plan, key, dtype).tobytes()
                    for reader, extent in zip(readers, (ea, eb), strict=True)
                    for key in _probe_keys(plan.shape)
                )
            except CannotCompareError:
                probes = ()
            located.append(replace(plan, raw_a=ea, raw_b=eb) if probes == plan.probes else plan)
    finally:
        for reader in readers:
            reader.close()
    return located


def _extents(path: Path, model: str, names: list[str]) -> dict[str, Extent]:
    if os.environ.get("R2O_COMPARE_RAW", "1") == "0":
        return {}
    if model.startswith("NETCDF3"):
        return classic.extents(path, names)
    return contiguous_extents(path, names)


class _RawReader:
    """Reads contiguous slabs of one file with pread into a buffer reused for every slab."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self.buffer = np.empty(0, dtype=np.uint8)

    def read(self, extent: Extent, plan: VariablePlan, key: tuple[slice, ...], dtype: np.dtype[Any]) -> Any:
        shape = tuple(s.stop - s.start for s in key)
        start = int(np.ravel_multi_index([s.start for s in key], plan.shape))
        nbytes = math.prod(shape) * plan.itemsize
        if self.buffer.size < nbytes:
            self.buffer = np.empty(nbytes, dtype=np.uint8)
        view = self.buffer.data[:nbytes]
        for offset, length, at in extent.runs(start * plan.itemsize, nbytes):
            done = 0
            while done < length:
                got = os.preadv(self.fd, [view[at + done : at + length]], offset + done)
                if got <= 0:
                    raise CannotCompareError(
                        f"{self.path}: variable {plan.name}: the file ends inside its data", hint=_HINT
                    )
                done += got
        values = self.buffer[:nbytes].view(dtype)
        if extent.order != _NATIVE:
            values.byteswap(inplace=True)  # the reused buffer holds this slab only: swap in place
        return values.reshape(shape)

    def close(self) -> None:
        os.close(self.fd)


def _work(a: Path, b: Path, plans: Sequence[VariablePlan], share: list[Unit]) -> dict[int, FieldStats]:
    out: dict[int, FieldStats] = {}
    with ExitStack() as stack:
        datasets: list[Any] = []
        readers: list[_RawReader] = []
        for i, first, end in share:
            plan = plans[i]
            stats = out.setdefault(i, FieldStats())
            if plan.raw_a is not None and plan.raw_b is not None:
                if not readers:
                    readers = [_RawReader(a), _RawReader(b)]
                    for reader in readers:
                        stack.callback(reader.close)
                dtype = plan.native_dtype
                for ordinal in range(first, end):
                    key = plan.slab_key(ordinal)
                    xa = readers[0].read(plan.raw_a, plan, key, dtype)
                    xb = readers[1].read(plan.raw_b, plan, key, dtype)
                    process_slab(stats, xa, xb, plan.ctx, _globalizer(plan, key))
                continue
            if not datasets:
                datasets = [stack.enter_context(_open(a)), stack.enter_context(_open(b))]
            va, vb = _variable(datasets[0], plan.path), _variable(datasets[1], plan.path)
            for ordinal in range(first, end):
                key = plan.slab_key(ordinal)
                xa = _read(va, key, a, plan)
                xb = _read(vb, key, b, plan)
                process_slab(stats, xa, xb, plan.ctx, _globalizer(plan, key))
    return out


def _variable(ds: Any, path: str) -> Any:
    group = ds
    parts = path.strip("/").split("/")
    for name in parts[:-1]:
        group = group.groups[name]
    return group.variables[parts[-1]]


def _read(var: Any, key: tuple[slice, ...], path: Path, plan: VariablePlan) -> Any:
    try:
        data = var[key] if key else var[...]
    except (OSError, RuntimeError, IndexError, ValueError, MemoryError) as exc:
        raise CannotCompareError(
            f"{path}: variable {plan.name}: cannot read values {_describe_key(key)}: {exc}", hint=_HINT
        ) from exc
    data = np.asarray(data)
    if data.dtype.byteorder not in ("=", "|"):  # as direct reads do: arithmetic in native order
        data = data.astype(data.dtype.newbyteorder("="))
    if data.shape != tuple(s.stop - s.start for s in key):
        data = data.reshape(tuple(s.stop - s.start for s in key))
    return data


def _describe_key(key: tuple[slice, ...]) -> str:
    return "[" + ", ".join(f"{s.start}:{s.stop}" for s in key) + "]"


def _globalizer(plan: VariablePlan, key: tuple[slice, ...]) -> Any:
    """Slab-local flat index -> flat index in the whole variable (plain integer arithmetic: this
    runs for every reported location, numpy's unravel/ravel cost more than the arithmetic)."""
    if not key:
        return lambda local: 0
    starts = [s.start for s in key]
    sizes = [s.stop - s.start for s in key]
    strides = [math.prod(plan.shape[i + 1 :]) for i in range(len(plan.shape))]
    axes = list(range(len(sizes) - 1, -1, -1))

    def to_global(local: int) -> int:
        total = 0
        for i in axes:
            local, within = divmod(local, sizes[i])
            total += (within + starts[i]) * strides[i]
        return total

    return to_global


class _CoordinateReader:
    """Coordinate values at a reported location, read lazily from file a."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._ds: Any = None

    def locate(self, plan: VariablePlan, p: Point) -> Location:
        index = tuple(int(i) for i in np.unravel_index(p[0], plan.shape)) if plan.shape else ()
        return Location(index=index, a=p[1], b=p[2], coords=self._coords(plan, index))

    def _coords(self, plan: VariablePlan, index: tuple[int, ...]) -> tuple[tuple[str, str], ...]:
        try:
            if self._ds is None:
                self._ds = netCDF4.Dataset(str(self._path), "r")
            group = self._ds
            for name in plan.path.strip("/").split("/")[:-1]:
                group = group.groups[name]
            out: list[tuple[str, str]] = []
            for dim, i in zip(plan.dims, index, strict=True):
                var = _find_coordinate(group, dim)
                if var is not None:
                    value = np.asarray(var[i])
                    out.append(
                        (dim, f"{value.item():.6g}" if value.dtype.kind in "fiu" else str(value.item()))
                    )
            return tuple(out)
        except Exception:  # coordinates only decorate a report; never fail a comparison over them
            return ()

    def close(self) -> None:
        if self._ds is not None:
            self._ds.close()


def _find_coordinate(group: Any, dim: str) -> Any:
    while group is not None:
        var = group.variables.get(dim)
        if var is not None and tuple(var.dimensions) == (dim,):
            return var
        group = group.parent
    return None


__all__ = ["VariablePlan", "compare_netcdf", "run_plans", "slab_shape", "split_work"]
