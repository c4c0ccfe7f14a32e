"""The value engine against a brute-force reading of the documented rules, on random arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2o.compare.rules import CompareRules, Tolerance
from r2o.compare.values import FieldStats, ValueContext, process_slab, ulp_distance

FILL = np.float32(-999.0)


def brute(
    x: np.ndarray, y: np.ndarray, tol: Tolerance, nan_equal: bool, fill: np.float32 | None
) -> dict[str, int]:
    differing = fill_mismatch = 0
    first = None
    for i, (u, v) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
        fu = fill is not None and u == float(fill)
        fv = fill is not None and v == float(fill)
        if fu or fv:
            fill_mismatch += fu != fv
            continue
        if math.isnan(u) or math.isnan(v):
            bad = not (math.isnan(u) and math.isnan(v) and nan_equal)
        elif u == v:
            bad = False
        else:
            bad = not abs(u - v) <= tol.atol + tol.rtol * max(abs(u), abs(v))
        if bad:
            differing += 1
            first = i if first is None else first
    return {"differing": differing, "fill_mismatch": fill_mismatch, "first": -1 if first is None else first}


values = st.sampled_from([0.0, 1.0, -1.0, 1.5, 2.0, 1e-3, 1000.0, float("nan"), float(FILL)])


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(values, values, st.booleans()), min_size=1, max_size=40),
    rtol=st.sampled_from([0.0, 1e-6, 0.1, 0.5]),
    atol=st.sampled_from([0.0, 1e-3, 0.6]),
    nan_equal=st.booleans(),
    use_fill=st.booleans(),
)
def test_process_slab_matches_brute_force(
    pairs: list[tuple[float, float, bool]], rtol: float, atol: float, nan_equal: bool, use_fill: bool
) -> None:
    # the third element decides whether b copies a: runs of identical values exercise the fast path
    x = np.array([p[0] for p in pairs], dtype=np.float32)
    y = np.array([p[0] if p[2] else p[1] for p in pairs], dtype=np.float32)
    tol = Tolerance(rtol=rtol, atol=atol)
    fill = FILL if use_fill else None
    ctx = ValueContext(tol, nan_equal, "float", "float", fill_a=fill, fill_b=fill)
    stats = FieldStats()
    process_slab(stats, x, y, ctx, lambda i: i)
    expected = brute(x, y, tol, nan_equal, fill)
    assert stats.differing == expected["differing"]
    assert stats.fill_mismatch == expected["fill_mismatch"]
    assert (stats.first[0] if stats.first else -1) == expected["first"]
    assert stats.size == x.size


def test_slow_path_agrees_with_fast_path() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(10_000).astype(np.float32)
    y = x.copy()
    y[::97] *= np.float32(1.001)
    y[5] = np.nan
    results = []
    for same in (True, False):
        ctx = ValueContext(Tolerance(rtol=1e-4), True, "float", "float", same_storage=same)
        stats = FieldStats()
        process_slab(stats, x, y, ctx, lambda i: i)
        results.append((stats.differing, stats.nan_mismatch, stats.not_identical, stats.first, stats.max_abs))
    assert results[0] == results[1]


@given(st.floats(width=32, allow_nan=False), st.integers(min_value=0, max_value=50))
def test_ulp_distance_counts_steps(x: float, steps: int) -> None:
    a = np.array([x], dtype=np.float32)
    b = a.copy()
    with np.errstate(over="ignore"):
        for _ in range(steps):
            b = np.nextafter(b, np.float32(np.inf), dtype=np.float32)
    if np.isinf(b[0]):
        return  # walked off the end of the float line
    assert int(ulp_distance(a, b)[0]) == steps  # from -0.0 the first step lands on +tiny: -0 == +0


def test_ulp_distance_float64_extremes() -> None:
    a = np.array([np.finfo(np.float64).max, -np.finfo(np.float64).max, 0.0])
    b = np.array([-np.finfo(np.float64).max, np.finfo(np.float64).max, -0.0])
    d = ulp_distance(a, b)
    assert d[0] == d[1] == np.uint64(2 * 0x7FEFFFFFFFFFFFFF) and d[2] == 0


@pytest.mark.parametrize("bad", [{"rtol": -1.0}, {"atol": float("nan")}, {"ulp": -1}])
def test_tolerance_rejects_bad_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Tolerance(**bad)  # type: ignore[arg-type]


def test_rules_tolerance_lookup() -> None:
    rules = CompareRules(default=Tolerance(rtol=1.0), per_name={"O3": Tolerance(atol=2.0)})
    assert rules.tolerance_for("O3") == Tolerance(atol=2.0)
    assert rules.tolerance_for("grp/O3") == Tolerance(atol=2.0)
    assert rules.tolerance_for("T") == Tolerance(rtol=1.0)
    assert CompareRules(mode="text", default=Tolerance(rtol=1.0)).tolerance_for("T") == Tolerance()
    with pytest.raises(ValueError):
        CompareRules(mode="fuzzy")  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["atol", "rtol"])
def test_dense_screen_decides_exactly_at_the_boundary(dtype: type, kind: str) -> None:
    # every value moves by one ULP: values in [1, 2) by exactly the tolerance, those in [2, 4) by twice it
    x = np.random.default_rng(5).uniform(1, 4, 50_000).astype(dtype)
    y = np.nextafter(x, dtype(8))
    step = float(np.spacing(dtype(1)))
    tol = Tolerance(atol=step) if kind == "atol" else Tolerance(rtol=step / 1.5)
    ctx = ValueContext(tol, True, "float", "float")
    stats = FieldStats()
    process_slab(stats, x, y, ctx, lambda i: i)
    a, b = x.astype(np.float64), y.astype(np.float64)
    expected = np.abs(a - b) > tol.atol + tol.rtol * np.maximum(np.abs(a), np.abs(b))
    assert 0 < stats.differing == int(expected.sum()) < x.size
    assert stats.first is not None and stats.first[0] == int(np.argmax(expected))
    assert stats.not_identical == x.size


def test_concurrent_comparisons_do_not_share_work_buffers(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from r2o.compare import compare

    rng = np.random.default_rng(11)
    pairs = []
    for k in range(4):
        x = rng.random(300_000).astype(np.float32) + k
        y = x * np.float32(1 + 1e-5 * (k + 1))
        np.save(tmp_path / f"a{k}.npy", x)
        np.save(tmp_path / f"b{k}.npy", y)
        pairs.append((tmp_path / f"a{k}.npy", tmp_path / f"b{k}.npy"))
    serial = [compare(a, b).to_dict() for a, b in pairs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda p: compare(*p).to_dict(), pairs * 3))
    assert threaded == serial * 3


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=400),
    changed=st.lists(st.integers(min_value=0, max_value=399), max_size=60),
    block_bytes=st.sampled_from([1, 4, 12, 64, 4096]),
    dtype=st.sampled_from(["u1", "u2", "u4", "u8"]),
    use_memcmp=st.booleans(),
)
def test_byte_differences_finds_every_differing_position(
    n: int, changed: list[int], block_bytes: int, dtype: str, use_memcmp: bool
) -> None:
    from r2o.compare import values

    a = np.arange(n, dtype=dtype)
    b = a.copy()
    for i in changed:
        if i < n:
            b[i] ^= b.dtype.type(1)  # one flipped bit, at any position inside or across screening blocks
    truth = np.flatnonzero(a != b)
    saved = values._MEMCMP
    values._MEMCMP = saved if use_memcmp else None
    try:
        k, idx = values.byte_differences(a, b, block_bytes)
    finally:
        values._MEMCMP = saved
    assert k == truth.size
    if truth.size * values.DENSE >= n > 0:
        assert idx is None  # dense: the caller evaluates the slab whole
    else:
        assert idx is not None and idx.tolist() == truth.tolist()


def test_byte_differences_uses_memcmp_here() -> None:
    from r2o.compare import values

    assert values._MEMCMP is not None, "libc memcmp not found: the byte screen falls back to numpy"
