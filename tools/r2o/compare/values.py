"""Value-by-value comparison of array slabs, accumulated into mergeable per-field statistics.

The rules (tolerance formula, fill values, NaN, ULP) are documented in :mod:`r2o.compare.rules`.
The fast path compares the stored bytes of a slab first (``memcmp`` on blocks, then
``np.not_equal`` on unsigned-integer views inside the blocks that differ) and evaluates tolerances
only at positions whose bytes differ. A slab where most positions
differ is evaluated whole, in cache-sized blocks with reused buffers: float data free of fill and
NaN is screened in its stored precision and every position near its limit is decided exactly in
float64, so verdicts never depend on the precision of the data. (The RMS of such blocks sums
squares in float32 per block of :data:`BLOCK` values, a relative error below 1e-6.) All
temporaries are bounded by the slab size, so memory does not grow with the file size.
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from r2o.compare.report import FieldReport, Location
from r2o.compare.rules import Tolerance

#: Bytes of one slab of one file; measured: 4 MiB slabs keep both slabs in cache between the read
#: and the byte comparison, while larger slabs spill to memory and smaller ones pay per-call costs.
SLAB_BYTES = 4 << 20
#: Elements per evaluation block (measured: 2^17 float32 values per block is the sweet spot
#: between per-call overhead and temporaries falling out of cache).
BLOCK = 1 << 17
#: A slab where more than 1/DENSE of the positions differ is evaluated whole, block by block.
DENSE = 8
#: Bytes screened per ``memcmp`` call before any element is compared (measured on 1 GiB files: 64 KiB
#: blocks cost ~15k calls per GiB, small next to reading the data, while sparse differences still
#: leave most blocks identical).
SCREEN_BYTES = 64 << 10

Kind = Literal["float", "int", "other"]
Point = tuple[int, float | str | None, float | str | None]  # (global flat index, a, b)
Array = npt.NDArray[Any]
ToGlobal = Callable[[int], int]


def kind_of(dtype: np.dtype[Any]) -> Kind:
    if dtype.kind == "f":
        return "float"
    if dtype.kind in "iub":
        return "int"
    return "other"


@dataclass(frozen=True)
class ValueContext:
    """How the stored values of one field are read: tolerance, fills, packing."""

    tol: Tolerance
    nan_equal: bool
    kind_a: Kind
    kind_b: Kind
    fill_a: Any = None  # numpy scalar of the stored type, or None
    fill_b: Any = None
    scale_a: tuple[float, float] | None = None  # (scale_factor, add_offset) when packed
    scale_b: tuple[float, float] | None = None
    same_storage: bool = True  # same dtype, same fill bytes, same packing: the byte fast path applies

    @property
    def numeric(self) -> bool:
        return self.kind_a != "other" and self.kind_b != "other"

    @property
    def exact_int(self) -> bool:
        """Integers with zero tolerance are compared exactly, not through float64."""
        return (
            self.kind_a == "int"
            and self.kind_b == "int"
            and self.scale_a is None
            and self.scale_b is None
            and self.tol.rtol == 0.0
            and self.tol.atol == 0.0
        )

    @property
    def ulp_applies(self) -> bool:
        return (
            self.tol.ulp is not None
            and self.kind_a == "float"
            and self.scale_a is None
            and self.scale_b is None
            and self.same_storage
        )


@dataclass
class FieldStats:
    """Running statistics of one field; slabs may be accumulated in any order and merged."""

    size: int = 0
    valid: int = 0  # positions valid (neither fill nor NaN) on both sides
    not_identical: int = 0
    differing: int = 0
    fill_mismatch: int = 0
    nan_mismatch: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    sum_sq: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    first: Point | None = None
    worst: Point | None = None
    worst_abs: float = -1.0
    first_fill: Point | None = None

    def note_range(self, lo: float, hi: float) -> None:
        self.lo = min(self.lo, lo)
        self.hi = max(self.hi, hi)

    def note_first(self, point: Point) -> None:
        if self.first is None or point[0] < self.first[0]:
            self.first = point

    def note_worst(self, diff: float, point: Point) -> None:
        if diff > self.worst_abs or (
            diff == self.worst_abs and self.worst is not None and point[0] < self.worst[0]
        ):
            self.worst_abs = diff
            self.worst = point

    def note_first_fill(self, point: Point) -> None:
        if self.first_fill is None or point[0] < self.first_fill[0]:
            self.first_fill = point

    def merge(self, other: FieldStats) -> None:
        self.size += other.size
        self.valid += other.valid
        self.not_identical += other.not_identical
        self.differing += other.differing
        self.fill_mismatch += other.fill_mismatch
        self.nan_mismatch += other.nan_mismatch
        self.max_abs = max(self.max_abs, other.max_abs)
        self.max_rel = max(self.max_rel, other.max_rel)
        self.sum_sq += other.sum_sq
        self.note_range(other.lo, other.hi)
        if other.first is not None:
            self.note_first(other.first)
        if other.worst is not None:
            self.note_worst(other.worst_abs, other.worst)
        if other.first_fill is not None:
            self.note_first_fill(other.first_fill)

    @property
    def equal(self) -> bool:
        return self.differing == 0 and self.fill_mismatch == 0

    def report(
        self,
        name: str,
        tol: Tolerance,
        *,
        shape: tuple[int, ...] = (),
        dtype: str = "",
        locate: Callable[[Point], Location] | None = None,
    ) -> FieldReport:
        rms = math.sqrt(self.sum_sq / self.valid) if self.valid else 0.0
        span = self.hi - self.lo
        nrms: float | None
        if rms == 0.0:
            nrms = 0.0
        elif math.isfinite(span) and span > 0:
            nrms = rms / span
        else:
            nrms = None

        def where(p: Point | None) -> Location | None:
            if p is None:
                return None
            if locate is not None:
                return locate(p)
            return Location(index=(p[0],), a=p[1], b=p[2])

        return FieldReport(
            name=name,
            equal=self.equal,
            size=self.size,
            differing=self.differing,
            not_identical=self.not_identical,
            fill_mismatch=self.fill_mismatch,
            nan_mismatch=self.nan_mismatch,
            max_abs=self.max_abs,
            max_rel=self.max_rel,
            rms=rms,
            nrms=nrms,
            first=where(self.first),
            worst=where(self.worst),
            first_fill=where(self.first_fill),
            tolerance=tol,
            dtype=dtype,
            shape=shape,
        )


def ulp_distance(a: Array, b: Array) -> Array:
    """Units in the last place between same-typed floats, as uint64 (``-0.0`` and ``0.0`` coincide)."""
    size = a.dtype.itemsize
    if size in (2, 4):
        ia = a.view(f"i{size}").astype(np.int64)
        ib = b.view(f"i{size}").astype(np.int64)
        magnitude = (1 << (8 * size - 1)) - 1
        # sign-magnitude -> ordered integers: negative floats map to minus their magnitude
        oa = np.where(ia < 0, -(ia & magnitude), ia)
        ob = np.where(ib < 0, -(ib & magnitude), ib)
        small: Array = np.abs(oa - ob).astype(np.uint64)
        return small
    ia = a.astype(np.float64).view(np.int64)
    ib = b.astype(np.float64).view(np.int64)
    mask = np.int64(0x7FFFFFFFFFFFFFFF)
    oa = np.where(ia < 0, -(ia & mask), ia)
    ob = np.where(ib < 0, -(ib & mask), ib)
    ua, ub = oa.view(np.uint64), ob.view(np.uint64)
    # two's-complement wrap-around gives the exact unsigned difference of the larger minus the smaller
    distance: Array = np.where(oa >= ob, ua - ub, ub - ua)
    return distance


def _unpack(raw: Array, scale: tuple[float, float] | None) -> npt.NDArray[np.float64]:
    values = raw.astype(np.float64)
    if scale is not None:
        values *= scale[0]
        values += scale[1]
    return values


def _scalar(x: Any) -> float | str | None:
    if isinstance(x, np.generic | int | float):
        value: Any = x
        try:
            return float(value)
        except (TypeError, ValueError):
            return str(x)
    return None if x is None else str(x)


def _fill_mask(raw: Array, fill: Any) -> npt.NDArray[np.bool_] | None:
    if fill is None:
        return None
    if raw.dtype.kind == "f" and np.isnan(fill):
        return np.isnan(raw)
    return np.asarray(raw == fill)


def scan_valid(
    raw: Array, fill: Any, scale: tuple[float, float] | None, kind: Kind
) -> tuple[bool, int, float, float]:
    """(clean, invalid count, lo, hi) of one side's slab: clean means no fill and no NaN present.

    ``min``/``max`` are two vectorized passes; the masked path only runs when a fill value or NaN
    may be present (a fill value is normally an extreme, so it shows up as the min or max).
    """
    if raw.size == 0 or kind == "other":
        return True, 0, math.inf, -math.inf
    lo_raw, hi_raw = raw.min(), raw.max()
    dirty = kind == "float" and (bool(np.isnan(lo_raw)) or bool(np.isnan(hi_raw)))
    if fill is not None and not dirty:
        dirty = bool(np.isnan(fill)) if kind == "float" else False
        dirty = dirty or bool(lo_raw <= fill <= hi_raw)
    if not dirty:
        lo, hi = _unpack(np.array([lo_raw, hi_raw]), scale)
        return True, 0, float(min(lo, hi)), float(max(lo, hi))
    valid = ~np.isnan(raw) if kind == "float" else np.ones(raw.shape, dtype=bool)
    fm = _fill_mask(raw, fill)
    if fm is not None:
        valid &= ~fm
    n_valid = int(np.count_nonzero(valid))
    if n_valid == 0:
        return False, raw.size, math.inf, -math.inf
    vals = raw[valid]
    lo, hi = _unpack(np.array([vals.min(), vals.max()]), scale)
    return False, raw.size - n_valid, float(min(lo, hi)), float(max(lo, hi))


# infinities and huge values legitimately produce inf/NaN intermediates; they are handled inside
@np.errstate(invalid="ignore", over="ignore", divide="ignore")
def evaluate(
    stats: FieldStats,
    a: Array,
    b: Array,
    positions: npt.NDArray[np.intp] | int,
    ctx: ValueContext,
    to_global: ToGlobal,
    *,
    check_invalid: bool = True,
    b_range: bool = True,
    count_changes: bool = False,
) -> tuple[int, int]:
    """Evaluate the rules on 1-D stored values ``a``/``b`` at ``positions`` (slab-local flat indices,
    or the int offset of a contiguous block). Returns (positions valid on both sides, positions
    invalid in ``a``). ``check_invalid=False`` promises that neither side holds fill or NaN."""

    def local(i: int) -> int:
        return int(positions[i]) if isinstance(positions, np.ndarray) else positions + i

    def point(i: int, av: Any, bv: Any) -> Point:
        return (to_global(local(i)), _scalar(av), _scalar(bv))

    n = a.size
    a_invalid = 0
    if check_invalid:
        fa = _fill_mask(a, ctx.fill_a)
        fb = _fill_mask(b, ctx.fill_b)
        na = np.isnan(a) if ctx.kind_a == "float" else None
        nb = np.isnan(b) if ctx.kind_b == "float" else None
        zeros = np.zeros(n, dtype=bool)
        fa = zeros if fa is None else fa
        fb = zeros if fb is None else fb
        na = zeros if na is None else na & ~fa
        nb = zeros if nb is None else nb & ~fb
        a_invalid = int(np.count_nonzero(fa | na))
        mism = fa ^ fb
        n_mism = int(np.count_nonzero(mism))
        if n_mism:
            stats.fill_mismatch += n_mism
            i = int(np.argmax(mism))
            stats.note_first_fill(point(i, a[i], b[i]))
        rest = ~(fa | fb)
        both_nan = na & nb & rest
        one_nan = (na ^ nb) & rest
        n_one = int(np.count_nonzero(one_nan))
        bad_nan = one_nan if ctx.nan_equal else one_nan | both_nan
        n_bad_nan = int(np.count_nonzero(bad_nan))
        if n_bad_nan:
            stats.nan_mismatch += n_one
            stats.differing += n_bad_nan
            i = int(np.argmax(bad_nan))
            stats.note_first(
                point(i, _unpack(a[i : i + 1], ctx.scale_a)[0], _unpack(b[i : i + 1], ctx.scale_b)[0])
            )
        if count_changes:
            stats.not_identical += n_mism + n_one + (0 if ctx.nan_equal else int(np.count_nonzero(both_nan)))
        valid = rest & ~na & ~nb
        if not valid.all():
            idx = np.flatnonzero(valid)
            a, b = a[idx], b[idx]
            positions = positions[idx] if isinstance(positions, np.ndarray) else idx + positions
    n_valid = a.size
    if n_valid == 0:
        return 0, a_invalid

    packed = ctx.scale_a is not None or ctx.scale_b is not None
    av = bv = None
    if packed:
        av = _unpack(a, ctx.scale_a)
        bv = _unpack(b, ctx.scale_b)
        d = np.subtract(av, bv)
    else:
        # the ufunc casts block by block: no float64 copies of the inputs are materialized
        d = np.subtract(a, b, dtype=np.float64)
    np.abs(d, out=d)
    j_max = int(np.argmax(d))  # argmax also gives the max: one pass instead of two
    dmax = float(d[j_max])
    if math.isnan(dmax):  # inf - inf: the same infinity on both sides is equal
        d[np.isnan(d)] = 0.0
        j_max = int(np.argmax(d))
        dmax = float(d[j_max])
    if count_changes:
        stats.not_identical += int(np.count_nonzero(d != 0))  # on bools: counting floats is slow
    if b_range:
        lo_b, hi_b = (bv.min(), bv.max()) if bv is not None else (b.min(), b.max())
        stats.note_range(float(lo_b), float(hi_b))
    if dmax == 0.0 and not ctx.exact_int:
        return n_valid, a_invalid
    stats.max_abs = max(stats.max_abs, dmax)
    stats.sum_sq += float(np.dot(d, d))
    # m = max(|a|, |b|), exact in the stored float type (abs and max never round)
    if av is not None and bv is not None:
        np.abs(av, out=av)
        np.abs(bv, out=bv)
        m = np.maximum(av, bv, out=av)
    elif a.dtype.kind == "f" and a.dtype == b.dtype:
        m = np.abs(a)
        np.maximum(m, np.abs(b), out=m)
    else:
        m = np.abs(a, dtype=np.float64)
        np.maximum(m, np.abs(b, dtype=np.float64), out=m)

    tol = ctx.tol
    if ctx.exact_int:
        bad = np.not_equal(a, b)
    elif tol.rtol == 0.0:
        bad = d > tol.atol
    else:
        limit = np.multiply(m, tol.rtol, dtype=np.float64)
        limit += tol.atol
        bad = d > limit
        del limit
    # relative difference |a-b| / max(|a|,|b|), a statistic only: in the stored float type when
    # both sides share it; 0/0 (both zero) and inf/inf give NaN, which fmax.reduce skips
    if m.dtype == a.dtype == b.dtype and av is None:
        rel = np.subtract(a, b)
        np.abs(rel, out=rel)
        np.divide(rel, m, out=rel)
    else:
        rel = np.divide(d, m, out=m if m.dtype == np.float64 else None, dtype=np.float64)
    rmax = float(np.fmax.reduce(rel))
    stats.max_rel = max(stats.max_rel, 0.0 if math.isnan(rmax) else rmax)
    del rel
    if ctx.ulp_applies and tol.ulp is not None:
        cand = np.flatnonzero(bad)
        if cand.size:
            within = ulp_distance(a[cand], b[cand]) <= np.uint64(tol.ulp)
            bad[cand[within]] = False
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        stats.differing += n_bad
        i = int(np.argmax(bad))
        stats.note_first(
            point(i, _unpack(a[i : i + 1], ctx.scale_a)[0], _unpack(b[i : i + 1], ctx.scale_b)[0])
        )
        j = j_max if n_bad == n_valid else int(np.argmax(np.where(bad, d, -1.0)))
        if float(d[j]) >= stats.worst_abs:
            stats.note_worst(
                float(d[j]),
                point(j, _unpack(a[j : j + 1], ctx.scale_a)[0], _unpack(b[j : j + 1], ctx.scale_b)[0]),
            )
    return n_valid, a_invalid


def _uint_view(x: Array) -> Array:
    size = x.dtype.itemsize
    if size in (1, 2, 4, 8) and x.dtype.kind in "fiub":
        return x.view(f"u{size}")
    return x


def _slab_flags(n: int) -> npt.NDArray[np.bool_]:
    """A boolean buffer of ``n`` reused across slabs (see :class:`_Scratch` for why)."""
    flags: npt.NDArray[np.bool_] | None = getattr(_LOCAL, "flags", None)
    if flags is None or flags.size < n:
        flags = _LOCAL.flags = np.empty(n, dtype=bool)
    return flags[:n]


def _load_memcmp() -> Callable[[int, int, int], int] | None:
    """The C library's ``memcmp``, or None where ctypes cannot find it (numpy then does the screen)."""
    try:
        libc = ctypes.CDLL(None)
        memcmp = libc.memcmp
    except (OSError, AttributeError, TypeError):
        return None
    memcmp.restype = ctypes.c_int
    memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    found: Callable[[int, int, int], int] = memcmp
    return found


_MEMCMP = _load_memcmp()


def byte_differences(
    ua: Array, ub: Array, block_bytes: int = SCREEN_BYTES
) -> tuple[int, npt.NDArray[np.intp] | None]:
    """(count, flat indices) of the positions where two same-typed 1-D contiguous arrays differ,
    or (count, None) when at least 1/:data:`DENSE` of them differ (the caller then evaluates the
    slab whole and needs no indices).

    Blocks of ``block_bytes`` are screened with ``memcmp``, which runs at memory speed and stops at
    the first difference; numpy compares elements only inside blocks that differ."""
    n = ua.size
    if _MEMCMP is None or not (ua.flags.c_contiguous and ub.flags.c_contiguous):
        ne = np.not_equal(ua, ub, out=_slab_flags(n))
        k = int(np.count_nonzero(ne))
        return k, (None if k * DENSE >= n > 0 else np.flatnonzero(ne))
    flags = _slab_flags(n)
    size = max(1, ua.itemsize)
    step = max(1, block_bytes // size)
    pa, pb = ua.ctypes.data, ub.ctypes.data
    memcmp = _MEMCMP
    spans: list[tuple[int, int]] = []
    k = 0
    for s in range(0, n, step):
        e = min(n, s + step)
        if memcmp(pa + s * size, pb + s * size, (e - s) * size):
            ne = np.not_equal(ua[s:e], ub[s:e], out=flags[s:e])
            k += int(np.count_nonzero(ne))
            spans.append((s, e))
    if k * DENSE >= n > 0:
        return k, None
    if not spans:
        return 0, np.empty(0, dtype=np.intp)
    return k, np.concatenate([np.flatnonzero(flags[s:e]) + s for s, e in spans])


def process_slab(stats: FieldStats, a: Array, b: Array, ctx: ValueContext, to_global: ToGlobal) -> None:
    """Accumulate one slab (same shape on both sides, C-contiguous) into ``stats``."""
    a = np.ascontiguousarray(a).reshape(-1)
    b = np.ascontiguousarray(b).reshape(-1)
    n = a.size
    stats.size += n
    if n == 0:
        return
    if not ctx.numeric:
        _process_other(stats, a, b, to_global)
        return
    a_clean, a_invalid, lo, hi = scan_valid(a, ctx.fill_a, ctx.scale_a, ctx.kind_a)
    stats.note_range(lo, hi)

    if not ctx.same_storage:
        b_clean, _, lo, hi = scan_valid(b, ctx.fill_b, ctx.scale_b, ctx.kind_b)
        stats.note_range(lo, hi)
        for s in range(0, n, BLOCK):
            valid, _ = evaluate(
                stats, a[s : s + BLOCK], b[s : s + BLOCK], s, ctx, to_global,
                check_invalid=not (a_clean and b_clean), b_range=False, count_changes=True,
            )  # fmt: skip
            stats.valid += valid
        return

    k, idx = byte_differences(_uint_view(a), _uint_view(b))
    stats.not_identical += k
    dense = idx is None
    if not ctx.nan_equal and ctx.kind_a == "float" and not a_clean and not dense:
        # bit-identical NaN is skipped below, yet unequal when NaN != NaN is asked for
        same_nan = np.isnan(a)
        same_nan[idx] = False
        if ctx.fill_a is not None and np.isnan(ctx.fill_a):
            same_nan[:] = False  # NaN is the fill value: fill on both sides is equal
        n_same = int(np.count_nonzero(same_nan))
        if n_same:
            stats.differing += n_same
            i = int(np.argmax(same_nan))
            stats.note_first((to_global(i), math.nan, math.nan))
    if k == 0:
        stats.valid += n - a_invalid
        return
    if idx is not None:
        valid_both = 0
        a_invalid_seen = 0
        for s in range(0, idx.size, BLOCK):
            sel = idx[s : s + BLOCK]
            valid, inv = evaluate(stats, a[sel], b[sel], sel, ctx, to_global)
            valid_both += valid
            a_invalid_seen += inv
        # positions not evaluated are bit-identical: valid on both sides exactly when valid in a
        stats.valid += valid_both + (n - idx.size) - (a_invalid - a_invalid_seen)
        return
    b_clean, _, lo, hi = scan_valid(b, ctx.fill_b, ctx.scale_b, ctx.kind_b)
    stats.note_range(lo, hi)
    if a_clean and b_clean and _native_float(ctx, a):
        with np.errstate(over="ignore", invalid="ignore"):
            for s in range(0, n, BLOCK):
                stats.valid += _clean_float_block(
                    stats, a[s : s + BLOCK], b[s : s + BLOCK], s, ctx, to_global
                )
        return
    for s in range(0, n, BLOCK):
        valid, _ = evaluate(
            stats, a[s : s + BLOCK], b[s : s + BLOCK], s, ctx, to_global,
            check_invalid=not (a_clean and b_clean), b_range=False,
        )  # fmt: skip
        stats.valid += valid


#: Relative margin of the single-precision screening; covers the rounding of |a-b|, rtol*m and atol.
_SCREEN = 2.0**-16


def _native_float(ctx: ValueContext, a: Array) -> bool:
    """Dense blocks of unpacked float32/float64 data are evaluated in their own precision."""
    tol = ctx.tol
    return (
        ctx.kind_a == "float"
        and ctx.same_storage
        and ctx.scale_a is None
        and a.dtype.itemsize in (4, 8)
        # tolerances that underflow or overflow the stored type go through float64
        and (tol.atol == 0.0 or 1e-30 < tol.atol < 1e30)
        and (tol.rtol == 0.0 or 1e-30 < tol.rtol < 1e30)
    )


class _Scratch:
    """Work buffers reused from block to block: fresh temporaries of this size come straight from
    the kernel (glibc maps them) and page-faulting them costs more than the arithmetic."""

    def __init__(self, dtype: np.dtype[Any], size: int) -> None:
        self.d = np.empty(size, dtype=dtype)
        self.m = np.empty(size, dtype=dtype)
        self.t = np.empty(size, dtype=dtype)
        self.flags = np.empty(size, dtype=bool)


_LOCAL = threading.local()  # per thread: comparisons may run concurrently in one process


def _scratch(dtype: np.dtype[Any]) -> _Scratch:
    cache: dict[str, _Scratch] = _LOCAL.__dict__.setdefault("scratch", {})
    found = cache.get(dtype.str)
    if found is None:
        found = cache[dtype.str] = _Scratch(dtype, BLOCK)
    return found


def _clean_float_block(
    stats: FieldStats, a: Array, b: Array, base: int, ctx: ValueContext, to_global: ToGlobal
) -> int:
    """A contiguous block with neither fill nor NaN on either side, same float type: screen in the
    stored precision, decide exactly (in float64) only where the screen is not conclusive.

    With gradual underflow ``a - b == 0`` exactly when ``a == b``, so zero tolerance needs no
    float64 at all; otherwise every position within :data:`_SCREEN` of its limit is re-checked.
    The caller holds ``np.errstate`` (overflow/invalid ignored). Returns the number of positions."""
    n = a.size
    scratch = _scratch(a.dtype)
    d = np.subtract(a, b, out=scratch.d[:n])
    np.abs(d, out=d)
    j_max = int(np.argmax(d))
    if not math.isfinite(float(d[j_max])):  # infinities, or |a-b| overflowing the stored type
        valid, _ = evaluate(stats, a, b, base, ctx, to_global, check_invalid=False, b_range=False)
        return valid
    if d[j_max] == 0:
        return n
    dmax = abs(float(a[j_max]) - float(b[j_max]))
    stats.max_abs = max(stats.max_abs, dmax)
    # single-precision partial sums for one block, accumulated in double across blocks
    stats.sum_sq += float(np.dot(d, d))
    m = np.abs(a, out=scratch.m[:n])
    np.maximum(m, np.abs(b, out=scratch.t[:n]), out=m)
    tol = ctx.tol
    flags = scratch.flags[:n]
    if tol.rtol == 0.0 and tol.atol == 0.0 and not ctx.ulp_applies:
        bad = np.greater(d, 0, out=flags)  # zero tolerance: out of tolerance exactly where d > 0
    else:
        limit = np.multiply(m, a.dtype.type(tol.rtol * (1 - _SCREEN)), out=scratch.t[:n])
        limit += a.dtype.type(tol.atol * (1 - _SCREEN))
        # and an absolute margin for limits so small that subnormal rounding is not relative
        limit -= 4 * np.finfo(a.dtype).smallest_subnormal
        cand = np.flatnonzero(np.greater_equal(d, limit, out=flags))
        bad = flags
        bad[:] = False
        if cand.size:
            x = a[cand].astype(np.float64)
            y = b[cand].astype(np.float64)
            exact = np.abs(x - y) > tol.atol + tol.rtol * np.maximum(np.abs(x), np.abs(y))
            bad[cand[exact]] = True
        if ctx.ulp_applies and tol.ulp is not None:
            cand = np.flatnonzero(bad)
            if cand.size:
                bad[cand[ulp_distance(a[cand], b[cand]) <= np.uint64(tol.ulp)]] = False
    n_bad = int(np.count_nonzero(bad))
    rel = np.divide(d, m, out=m)  # 0/0 where both are zero: NaN, skipped by fmax
    rmax = float(np.fmax.reduce(rel))
    stats.max_rel = max(stats.max_rel, 0.0 if math.isnan(rmax) else rmax)
    if n_bad:
        stats.differing += n_bad
        # the block's first position is its smallest global index: skip the search when it cannot win
        if stats.first is None or to_global(base) < stats.first[0]:
            i = int(np.argmax(bad))
            stats.note_first((to_global(base + i), float(a[i]), float(b[i])))
        # at zero tolerance every d > 0 is out of tolerance: the largest d is the worst
        j = j_max if n_bad == n or tol.is_zero else int(np.argmax(np.where(bad, d, -1.0)))
        worst = abs(float(a[j]) - float(b[j]))
        if worst >= stats.worst_abs:
            stats.note_worst(worst, (to_global(base + j), float(a[j]), float(b[j])))
    return n


def _process_other(stats: FieldStats, a: Array, b: Array, to_global: ToGlobal) -> None:
    """Strings, characters, compound and complex values: equal or not, no magnitude."""
    try:
        ne = np.asarray(a != b, dtype=bool)
        if ne.shape != a.shape:
            raise ValueError
    except (ValueError, TypeError):  # object arrays holding arrays compare elementwise in Python
        ne = np.array(
            [not _same_object(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=bool
        )
    k = int(np.count_nonzero(ne))
    stats.not_identical += k
    stats.differing += k
    stats.valid += a.size
    if k:
        i = int(np.argmax(ne))
        stats.note_first((to_global(i), _text(a[i]), _text(b[i])))


def _same_object(x: object, y: object) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    return bool(x == y)


def _text(x: object) -> str:
    if isinstance(x, bytes | np.bytes_):
        return x.decode("utf-8", "replace")
    return str(x)


def slab_shape(
    shape: tuple[int, ...], itemsize: int, chunks: Sequence[int] | None, budget: int | None = None
) -> tuple[int, ...]:
    """The largest block of whole chunks, full along trailing axes, that fits ``budget`` bytes.

    Growing from the last axis keeps each slab one contiguous run of a contiguous variable, and
    whole chunks mean no chunk is decompressed twice.
    """
    if not shape:
        return ()
    budget = SLAB_BYTES if budget is None else budget
    base = [max(1, int(c)) for c in chunks] if chunks else [1] * len(shape)
    s = [max(1, min(c, n)) for c, n in zip(base, shape, strict=True)]
    for j in reversed(range(len(shape))):
        per = math.prod(s[:j]) * math.prod(s[j + 1 :]) * itemsize
        if per * shape[j] <= budget:
            s[j] = max(1, shape[j])
            continue
        fit = max(1, budget // (per * base[j])) * base[j]
        s[j] = max(1, min(max(fit, s[j]), shape[j]))
        break
    return tuple(s)
