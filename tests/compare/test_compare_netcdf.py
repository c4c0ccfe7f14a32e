"""netCDF comparator on hand-made cases."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

from r2o.compare import CompareRules, Tolerance, compare
from r2o.compare import netcdf as nc_module
from r2o.compare import values as values_module
from r2o.errors import CannotCompareError


def rules(rtol: float = 0.0, atol: float = 0.0, **kwargs: Any) -> CompareRules:
    return CompareRules(default=Tolerance(rtol=rtol, atol=atol), **kwargs)


def only_field(result: Any) -> Any:
    assert len(result.fields) == 1
    return result.fields[0]


def test_identical_files_are_equal(nc: Any, field: np.ndarray) -> None:
    a = nc("a.nc", {"O3": field})
    b = nc("b.nc", {"O3": field})
    result = compare(a, b)
    assert result.equal and result.kind == "netcdf"
    report = only_field(result)
    assert report.size == field.size and report.not_identical == 0 and report.differing == 0
    assert "identical" in result.render_text()


def test_difference_inside_tolerance_is_equal_but_counted(nc: Any, field: np.ndarray) -> None:
    other = field.copy()
    other[1, 2, 3] = np.float32(other[1, 2, 3] * (1 + 5e-7))
    assert other[1, 2, 3] != field[1, 2, 3]
    result = compare(nc("a.nc", {"O3": field}), nc("b.nc", {"O3": other}), rules(rtol=1e-6))
    report = only_field(result)
    assert result.equal and report.equal
    assert report.not_identical == 1 and report.differing == 0
    assert 0 < report.max_rel <= 1e-6


@pytest.mark.parametrize("kind", ["atol", "rtol"])
def test_tolerance_boundary_is_inclusive_and_just_above_differs(
    nc: Any, field: np.ndarray, kind: str
) -> None:
    other = field.copy()
    other[0, 0, 0] = np.nextafter(other[0, 0, 0], np.float32(3), dtype=np.float32)
    x, y = float(field[0, 0, 0]), float(other[0, 0, 0])
    diff = abs(x - y)
    a, b = nc("a.nc", {"O3": field}), nc("b.nc", {"O3": other})
    # exactly at the tolerance: equal (the test is <=)
    at = rules(atol=diff) if kind == "atol" else rules(rtol=diff / max(abs(x), abs(y)))
    assert compare(a, b, at).equal
    # a hair below the difference: differs, and the report points at the value
    tight = diff * (1 - 1e-9)
    below = rules(atol=tight) if kind == "atol" else rules(rtol=tight / max(abs(x), abs(y)))
    result = compare(a, b, below)
    assert not result.equal
    report = only_field(result)
    assert report.differing == 1
    assert report.first is not None and report.first.index == (0, 0, 0)
    assert report.first.a == pytest.approx(x) and report.first.b == pytest.approx(y)
    assert report.max_abs == pytest.approx(diff)


def test_tolerance_is_symmetric(nc: Any) -> None:
    a = nc("a.nc", {"x": np.array([100.0, 1.0])})
    b = nc("b.nc", {"x": np.array([110.0, 1.0])})
    # |a-b| = 10 <= 0.0909*110 = 10.0 but > 0.0909*100: a one-sided rtol would disagree with itself
    tol = rules(rtol=10 / 110)
    assert compare(a, b, tol).equal == compare(b, a, tol).equal is True


def test_nan_equal_to_nan_by_default(nc: Any, field: np.ndarray) -> None:
    x = field.copy()
    x[0, 1, 2] = np.nan
    a, b = nc("a.nc", {"T": x}), nc("b.nc", {"T": x.copy()})
    assert compare(a, b).equal
    result = compare(a, b, rules(nan_equal=False))
    assert not result.equal
    assert only_field(result).differing == 1


def test_nan_with_different_payload_bits_is_still_nan(nc: Any) -> None:
    quiet = np.array([np.nan, 1.0], dtype=np.float32)
    other = quiet.copy()
    other.view(np.uint32)[0] = 0x7FC00001  # another NaN payload: bytes differ
    assert np.isnan(other[0])
    result = compare(nc("a.nc", {"T": quiet}), nc("b.nc", {"T": other}))
    assert result.equal
    assert only_field(result).not_identical == 1


def test_nan_on_one_side_differs_whatever_the_tolerance(nc: Any, field: np.ndarray) -> None:
    y = field.copy()
    y[3, 4, 5] = np.nan
    result = compare(nc("a.nc", {"T": field}), nc("b.nc", {"T": y}), rules(rtol=1.0, atol=1e9))
    report = only_field(result)
    assert not result.equal
    assert report.nan_mismatch == 1 and report.differing == 1
    assert report.first is not None and report.first.index == (3, 4, 5)
    assert math.isfinite(report.max_abs)


def test_fill_pattern_difference_is_reported_separately(nc: Any, field: np.ndarray) -> None:
    x, y = field.copy(), field.copy()
    x[0, 0, 1] = -999.0
    y[2, 2, 2] = -999.0
    a = nc("a.nc", {"T": x}, fill={"T": np.float32(-999.0)})
    b = nc("b.nc", {"T": y}, fill={"T": np.float32(-999.0)})
    result = compare(a, b, rules(atol=1e9))
    report = only_field(result)
    assert not result.equal
    assert report.fill_mismatch == 2 and report.differing == 0
    assert report.first_fill is not None and report.first_fill.index == (0, 0, 1)
    assert "fill-value pattern differs at 2 positions" in result.render_text()


def test_fill_on_both_sides_is_equal_and_excluded_from_statistics(nc: Any, field: np.ndarray) -> None:
    x = field.copy()
    x[1, 1, 1] = -999.0
    y = x.copy()
    y[0, 0, 0] += np.float32(0.5)
    a = nc("a.nc", {"T": x}, fill={"T": np.float32(-999.0)})
    b = nc("b.nc", {"T": y}, fill={"T": np.float32(-999.0)})
    report = only_field(compare(a, b, rules(atol=0.1)))
    assert report.fill_mismatch == 0 and report.differing == 1
    assert report.max_abs == pytest.approx(0.5)
    # the fill value does not leak into the normalization range
    assert report.nrms is not None and report.nrms > 1e-3


def test_default_netcdf_fill_counts_as_fill(nc: Any, tmp_path: Path) -> None:
    # a variable written only partly keeps the netCDF default fill in the rest
    for name, written in (("a.nc", 3), ("b.nc", 4)):
        with netCDF4.Dataset(tmp_path / name, "w") as ds:
            ds.createDimension("x", 5)
            ds.createVariable("v", "f4", ("x",))[:written] = np.arange(written, dtype=np.float32)
    report = only_field(compare(tmp_path / "a.nc", tmp_path / "b.nc", rules(atol=1e30)))
    assert report.fill_mismatch == 1 and report.first_fill is not None
    assert report.first_fill.index == (3,)


def test_shape_mismatch_is_a_difference_without_value_statistics(nc: Any) -> None:
    result = compare(nc("a.nc", {"T": np.zeros((2, 3))}), nc("b.nc", {"T": np.zeros((3, 3))}))
    assert not result.equal and result.fields == ()
    messages = " ".join(f"{d.where}: {d.message}" for d in result.differences)
    assert "variable T" in messages and "shape a=(2, 3) b=(3, 3)" in messages


def test_dtype_mismatch_is_a_difference_and_values_still_compared(nc: Any) -> None:
    data = np.array([1.0, 2.5, 3.0])
    result = compare(nc("a.nc", {"T": data.astype("f4")}), nc("b.nc", {"T": data.astype("f8")}))
    assert not result.equal
    assert any("dtype a=float32 b=float64" in d.message for d in result.differences)
    report = only_field(result)
    assert report.equal and report.differing == 0


def test_dtype_mismatch_values_out_of_tolerance(nc: Any) -> None:
    result = compare(
        nc("a.nc", {"T": np.array([1.0, 2.0], "f4")}), nc("b.nc", {"T": np.array([1.0, 2.5], "f8")})
    )
    report = only_field(result)
    assert report.differing == 1 and report.max_abs == pytest.approx(0.5)


def test_missing_variable_on_either_side(nc: Any, field: np.ndarray) -> None:
    a = nc("a.nc", {"O3": field, "NO2": field})
    b = nc("b.nc", {"O3": field, "CO": field})
    result = compare(a, b)
    assert not result.equal
    found = {(d.where, d.message) for d in result.differences}
    assert ("variable NO2", "only in a") in found
    assert ("variable CO", "only in b") in found
    assert [f.name for f in result.fields] == ["O3"]


def test_attribute_only_difference(nc: Any, field: np.ndarray) -> None:
    a = nc("a.nc", {"O3": field}, var_attrs={"O3": {"units": "ppmV"}}, attrs={"title": "run 1"})
    b = nc("b.nc", {"O3": field}, var_attrs={"O3": {"units": "ppbV"}}, attrs={"title": "run 1"})
    result = compare(a, b)
    assert not result.equal
    assert all(f.equal and f.not_identical == 0 for f in result.fields)
    assert [(d.where, d.message) for d in result.differences] == [
        ("variable O3: attribute units", "a='ppmV' b='ppbV'")
    ]


def test_noise_attributes_are_ignored_by_default(nc: Any, field: np.ndarray) -> None:
    a = nc("a.nc", {"O3": field}, attrs={"history": "made at 10:00", "CDATE": 2024197, "WTIME": 101010})
    b = nc("b.nc", {"O3": field}, attrs={"history": "made at 11:00", "CDATE": 2024198, "WTIME": 111111})
    assert compare(a, b).equal
    strict = compare(a, b, rules(ignore_attributes=frozenset()))
    assert not strict.equal
    assert {d.where for d in strict.differences} == {
        "global attribute history",
        "global attribute CDATE",
        "global attribute WTIME",
    }


def test_ignore_attributes_accept_glob_patterns(nc: Any, field: np.ndarray) -> None:
    a = nc("a.nc", {"O3": field}, attrs={"run_stamp_1": "x"})
    b = nc("b.nc", {"O3": field}, attrs={"run_stamp_1": "y"})
    assert not compare(a, b).equal
    assert compare(a, b, rules(ignore_attributes=frozenset({"run_stamp_*"}))).equal


def test_dimension_differences(nc: Any) -> None:
    a = nc("a.nc", {"v": np.zeros(3)}, dims={"extra": 2, "n": 4}, var_dims={"v": ("n3",)})
    b = nc("b.nc", {"v": np.zeros(3)}, dims={"n": 5}, var_dims={"v": ("n3",)})
    result = compare(a, b)
    found = {(d.where, d.message) for d in result.differences}
    assert ("dimension extra", "only in a (length 2)") in found
    assert ("dimension n", "length a=4 b=5") in found


def test_ulp_tolerance(nc: Any) -> None:
    x = np.array([1.0, -2.0, 0.0], dtype=np.float32)
    y = x.copy()
    y[0] = np.nextafter(np.nextafter(x[0], np.float32(2)), np.float32(2))  # 2 ULPs up
    y[2] = -0.0  # -0 and +0 are the same point
    a, b = nc("a.nc", {"v": x}), nc("b.nc", {"v": y})
    assert compare(a, b, CompareRules(default=Tolerance(ulp=2))).equal
    result = compare(a, b, CompareRules(default=Tolerance(ulp=1)))
    assert not result.equal and only_field(result).differing == 1


def test_ulp_across_zero_float64(nc: Any) -> None:
    tiny = np.nextafter(0.0, 1.0)
    a, b = nc("a.nc", {"v": np.array([tiny])}), nc("b.nc", {"v": np.array([-tiny])})
    assert compare(a, b, CompareRules(default=Tolerance(ulp=2))).equal
    assert not compare(a, b, CompareRules(default=Tolerance(ulp=1))).equal


def test_per_variable_tolerance(nc: Any, field: np.ndarray) -> None:
    y = field * np.float32(1 + 1e-4)
    a, b = nc("a.nc", {"O3": field, "NO2": field}), nc("b.nc", {"O3": y, "NO2": y})
    result = compare(a, b, CompareRules(default=Tolerance(rtol=1e-6), per_name={"NO2": Tolerance(rtol=1e-3)}))
    verdicts = {f.name: f.equal for f in result.fields}
    assert verdicts == {"O3": False, "NO2": True}


def test_integer_variables_compare_exactly(nc: Any) -> None:
    big = np.array([2**53, 7], dtype=np.int64)
    other = np.array([2**53 + 1, 7], dtype=np.int64)  # equal once converted to float64
    result = compare(nc("a.nc", {"n": big}), nc("b.nc", {"n": other}))
    assert not result.equal and only_field(result).differing == 1


def test_packed_values_compared_after_unpacking(nc: Any) -> None:
    attrs = {"v": {"scale_factor": 0.5, "add_offset": 100.0}}
    a = nc("a.nc", {"v": np.array([0, 10], "i2")}, var_attrs=attrs)
    b = nc("b.nc", {"v": np.array([0, 11], "i2")}, var_attrs=attrs)
    report = only_field(compare(a, b, rules(atol=0.4)))
    assert report.differing == 1 and report.max_abs == pytest.approx(0.5)
    assert report.first is not None and report.first.a == pytest.approx(105.0)
    assert compare(a, b, rules(atol=0.5)).equal


def test_classic_format_and_format_mismatch(nc: Any, field: np.ndarray) -> None:
    a = nc("a.nc", {"T": field}, fmt="NETCDF3_CLASSIC")
    b = nc("b.nc", {"T": field}, fmt="NETCDF4_CLASSIC")
    result = compare(a, b)
    assert result.equal
    assert any("file formats differ" in n for n in result.notes)
    c = nc("c.nc", {"T": field * 2}, fmt="NETCDF3_64BIT_OFFSET")
    assert not compare(a, c).equal


def test_string_and_char_variables(nc: Any, tmp_path: Path) -> None:
    for name, last in (("a.nc", "O3"), ("b.nc", "NO")):
        with netCDF4.Dataset(tmp_path / name, "w") as ds:
            ds.createDimension("n", 2)
            ds.createDimension("c", 2)
            ds.createVariable("chars", "S1", ("n", "c"))[:] = np.array(
                [[b"N", b"O"], [last[0].encode(), last[1].encode()]]
            )
            ds.createVariable("names", str, ("n",))[:] = np.array(["ozone", last], dtype=object)
    result = compare(tmp_path / "a.nc", tmp_path / "b.nc")
    assert not result.equal
    reports = {f.name: f for f in result.fields}
    assert reports["chars"].differing == 2
    assert reports["names"].differing == 1
    assert reports["names"].first is not None and reports["names"].first.index == (1,)


def test_groups_are_compared(tmp_path: Path) -> None:
    for name, value in (("a.nc", 1.0), ("b.nc", 2.0)):
        with netCDF4.Dataset(tmp_path / name, "w") as ds:
            grp = ds.createGroup("chem")
            grp.createDimension("x", 2)
            grp.createVariable("O3", "f8", ("x",))[:] = [0.0, value]
    result = compare(tmp_path / "a.nc", tmp_path / "b.nc")
    assert [f.name for f in result.fields if not f.equal] == ["chem/O3"]
    per_name = CompareRules(per_name={"O3": Tolerance(atol=1.0)})  # bare name matches in groups
    assert compare(tmp_path / "a.nc", tmp_path / "b.nc", per_name).equal


def test_location_reports_coordinate_values(nc: Any) -> None:
    lat = np.array([-10.0, 0.0, 10.0])
    t = np.zeros((3, 2))
    t2 = t.copy()
    t2[2, 1] = 1.0
    dims = {"lat": ("lat",), "T": ("lat", "lon")}
    a = nc("a.nc", {"lat": lat, "T": t}, var_dims=dims)
    b = nc("b.nc", {"lat": lat, "T": t2}, var_dims=dims)
    result = compare(a, b)
    report = next(f for f in result.fields if f.name == "T")
    assert report.first is not None
    assert report.first.index == (2, 1)
    assert report.first.coords == (("lat", "10"),)
    assert "[lat=10]" in result.render_text()


def test_scalar_and_empty_variables(nc: Any, tmp_path: Path) -> None:
    for name, value in (("a.nc", 1.0), ("b.nc", 2.0)):
        with netCDF4.Dataset(tmp_path / name, "w") as ds:
            ds.createVariable("s", "f8", ())[...] = value
            ds.createDimension("t", None)
            ds.createVariable("e", "f4", ("t",))
    result = compare(tmp_path / "a.nc", tmp_path / "b.nc")
    reports = {f.name: f for f in result.fields}
    assert reports["s"].differing == 1 and reports["s"].first is not None
    assert reports["s"].first.index == ()
    assert reports["e"].equal and reports["e"].size == 0


def test_infinities(nc: Any) -> None:
    x = np.array([np.inf, -np.inf, 1.0])
    assert compare(nc("a.nc", {"v": x}), nc("b.nc", {"v": x.copy()})).equal
    y = np.array([np.inf, np.inf, 1.0])
    report = only_field(compare(nc("c.nc", {"v": x}), nc("d.nc", {"v": y}), rules(atol=1e300)))
    assert report.differing == 1 and report.first is not None and report.first.index == (1,)


# ------------------------------------------------------------- slabs, fast path, workers


def reference(x: np.ndarray, y: np.ndarray, rtol: float, atol: float) -> dict[str, Any]:
    """Brute-force statistics for finite data, straight from the documented formula."""
    a, b = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
    d = np.abs(a - b)
    bad = d > atol + rtol * np.maximum(np.abs(a), np.abs(b))
    idx = np.flatnonzero(bad)
    return {
        "differing": int(bad.sum()),
        "not_identical": int((x.ravel() != y.ravel()).sum()),
        "max_abs": float(d.max()),
        "rms": float(np.sqrt(np.mean(d * d))),
        "first": tuple(int(i) for i in np.unravel_index(idx[0], x.shape)) if idx.size else None,
        "worst": tuple(int(i) for i in np.unravel_index(idx[np.argmax(d[idx])], x.shape))
        if idx.size
        else None,
        "nrms": float(np.sqrt(np.mean(d * d)) / (max(a.max(), b.max()) - min(a.min(), b.min()))),
    }


@pytest.mark.parametrize("fraction", [0.001, 0.5, 1.0], ids=["sparse", "half", "dense"])
@pytest.mark.parametrize("chunked", [False, True], ids=["contiguous", "chunked"])
@pytest.mark.parametrize("workers", ["1", "3"])
def test_slabs_and_workers_match_brute_force(
    nc: Any, monkeypatch: pytest.MonkeyPatch, fraction: float, chunked: bool, workers: str
) -> None:
    monkeypatch.setattr(values_module, "SLAB_BYTES", 1000)  # many slabs, some split mid-axis
    monkeypatch.setattr(nc_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setenv("R2O_COMPARE_WORKERS", workers)
    rng = np.random.default_rng(3)
    x = (rng.random((6, 7, 9, 11)) * 10 - 5).astype(np.float32)
    y = x.copy()
    mask = rng.random(x.shape) < fraction
    y[mask] = y[mask] * np.float32(1 + 1e-3) + np.float32(1e-4)
    kw: dict[str, Any] = {"chunks": {"v": (2, 3, 4, 5)}} if chunked else {}
    a, b = nc("a.nc", {"v": x}, **kw), nc("b.nc", {"v": y}, **kw)
    rtol, atol = 5e-4, 0.0
    report = only_field(compare(a, b, rules(rtol=rtol, atol=atol)))
    ref = reference(x, y, rtol, atol)
    assert report.differing == ref["differing"] > 0
    assert report.not_identical == ref["not_identical"]
    assert report.max_abs == pytest.approx(ref["max_abs"], rel=1e-12)
    assert report.rms == pytest.approx(ref["rms"], rel=1e-6)  # float32 partial sums in dense blocks
    assert report.nrms == pytest.approx(ref["nrms"], rel=1e-6)
    assert report.first is not None and report.first.index == ref["first"]
    assert report.worst is not None and report.worst.index == ref["worst"]


def test_slow_path_when_fill_values_differ_matches_fast_path(nc: Any, field: np.ndarray) -> None:
    y = field.copy()
    y[1, 1, 1] += np.float32(0.25)
    a = nc("a.nc", {"T": field}, fill={"T": np.float32(-1.0)})
    b = nc("b.nc", {"T": y}, fill={"T": np.float32(-2.0)})
    result = compare(a, b, rules(atol=0.1))
    assert any("_FillValue" in d.where for d in result.differences)
    report = only_field(result)
    assert report.differing == 1 and report.not_identical == 1 and report.first is not None
    assert report.first.index == (1, 1, 1)


def test_slab_shape_respects_budget_and_chunks() -> None:
    assert values_module.slab_shape((24, 32, 320, 364), 4, None, budget=4 << 20) == (1, 9, 320, 364)
    assert values_module.slab_shape((10, 10), 8, None, budget=1 << 20) == (10, 10)
    assert values_module.slab_shape((24, 32, 320, 364), 4, (6, 8, 40, 91), budget=4 << 20) == (6, 8, 40, 364)
    assert values_module.slab_shape((), 4, None) == ()


def test_split_work_covers_every_slab_once(nc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values_module, "SLAB_BYTES", 64)
    plans = [
        nc_module.VariablePlan(f"/v{i}", (n, 4), values_module.slab_shape((n, 4), 4, None), 4, None, "f4", ())  # type: ignore[arg-type]
        for i, n in enumerate((5, 17, 1, 40))
    ]
    for parts in (1, 2, 3, 7):
        shares = nc_module.split_work(plans, parts)
        assert len(shares) == parts
        covered = sorted((i, s) for share in shares for i, lo, hi in share for s in range(lo, hi))
        assert covered == sorted((i, s) for i, p in enumerate(plans) for s in range(p.n_slabs))


# ------------------------------------------------------------- cannot compare


def test_truncated_netcdf4_file(nc: Any, field: np.ndarray, tmp_path: Path) -> None:
    good = nc("a.nc", {"T": np.tile(field, (20, 1, 1))})
    data = good.read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CannotCompareError) as info:
        compare(good, cut)
    assert str(cut) in str(info.value) and info.value.exit_code == 10
    assert "complete" in str(info.value)


def test_truncated_classic_file(nc: Any, field: np.ndarray, tmp_path: Path) -> None:
    good = nc("a.nc", {"T": np.tile(field, (20, 1, 1))}, fmt="NETCDF3_CLASSIC")
    data = good.read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CannotCompareError) as info:
        compare(good, cut)
    assert str(cut) in str(info.value)


def test_garbage_with_netcdf_extension(nc: Any, field: np.ndarray, tmp_path: Path) -> None:
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"this is not a netCDF file\n" * 10)
    with pytest.raises(CannotCompareError, match="cannot be read as netCDF"):
        compare(nc("a.nc", {"T": field}), junk)


def test_missing_file(nc: Any, field: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(CannotCompareError, match="no such file"):
        compare(nc("a.nc", {"T": field}), tmp_path / "nope.nc")


def test_json_report_is_serializable(nc: Any, field: np.ndarray) -> None:
    import json

    y = field.copy()
    y[0, 0, 0] = np.nan
    result = compare(nc("a.nc", {"T": field}), nc("b.nc", {"T": y}))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["equal"] is False
    assert data["fields"][0]["first"]["index"] == [0, 0, 0]
    assert data["fields"][0]["first"]["b"] == "nan"


# ------------------------------------------------------------- direct reads of contiguous data


@pytest.fixture
def raw_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, bool]]:
    """One entry per comparison: variable name -> whether its values were read directly."""
    seen: list[dict[str, bool]] = []
    real = nc_module.run_plans

    def spy(a: Path, b: Path, plans: Any) -> Any:
        seen.append({p.name: p.raw for p in plans})
        return real(a, b, plans)

    monkeypatch.setattr(nc_module, "run_plans", spy)
    return seen


def test_contiguous_variables_are_read_directly_and_agree_with_netcdf4(
    nc: Any, field: np.ndarray, monkeypatch: pytest.MonkeyPatch, raw_reads: list[dict[str, bool]]
) -> None:
    y = field.copy()
    y[2, 3, 4] += np.float32(0.5)
    a, b = nc("a.nc", {"T": field}), nc("b.nc", {"T": y})
    direct = compare(a, b)
    monkeypatch.setattr(nc_module, "contiguous_extents", lambda path, names: {})
    through_netcdf4 = compare(a, b)
    assert raw_reads == [{"T": True}, {"T": False}]
    assert direct.to_dict() == through_netcdf4.to_dict()
    assert only_field(direct).first is not None and only_field(direct).first.index == (2, 3, 4)


def test_wrong_extent_is_caught_by_the_probes(
    nc: Any, field: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from r2o.compare.hdf5_layout import Extent

    y = field.copy()
    y[0, 0, 0] += np.float32(1.0)
    a, b = nc("a.nc", {"T": field}), nc("b.nc", {"T": y})
    real = nc_module.contiguous_extents

    def shifted(path: Path, names: Any) -> Any:
        return {k: Extent(e.offset + 4, e.nbytes, e.order) for k, e in real(path, names).items()}

    monkeypatch.setattr(nc_module, "contiguous_extents", shifted)
    report = only_field(compare(a, b))
    assert report.differing == 1 and report.first is not None and report.first.index == (0, 0, 0)


def test_unwritten_contiguous_variable_falls_back(tmp_path: Path) -> None:
    for name in ("a.nc", "b.nc"):
        with netCDF4.Dataset(tmp_path / name, "w") as ds:
            ds.createDimension("x", 4)
            ds.createVariable("never", "f4", ("x",))  # no data written: HDF5 has no extent for it
    report = only_field(compare(tmp_path / "a.nc", tmp_path / "b.nc"))
    assert report.equal and report.size == 4


def test_extent_runs_split_record_variables_at_record_boundaries() -> None:
    from r2o.compare.extents import Extent

    flat = Extent(offset=100, nbytes=40, order=">")
    assert list(flat.runs(8, 12)) == [(108, 12, 0)]
    rec = Extent(offset=100, nbytes=30, order=">", record_bytes=10, record_stride=16)
    # bytes 5..24 of the variable: the end of record 0, all of record 1, the start of record 2
    assert list(rec.runs(5, 20)) == [(105, 5, 0), (116, 10, 5), (132, 5, 15)]


def _classic_pair(tmp_path: Path, fmt: str, seed: int) -> tuple[Path, Path]:
    """Record variables of several types and odd sizes (record padding), a fixed variable, and a
    perturbed copy: the perturbations fall on record, record-boundary and fixed data."""
    rng = np.random.default_rng(seed)
    data = {
        "T": rng.random((5, 3, 7)).astype(np.float32),
        "NX": rng.integers(-500, 500, (5, 7)).astype(np.int16),  # 14 bytes per record: padded to 16
        "FLAG": rng.integers(-100, 100, (5, 3)).astype(np.int8),  # 3 bytes per record: padded to 4
        "Z": rng.random((3, 7)),  # fixed-size float64
        "time": np.arange(5, dtype=np.float64),
    }
    dims = {
        "T": ("time", "y", "x"),
        "NX": ("time", "x"),
        "FLAG": ("time", "y"),
        "Z": ("y", "x"),
        "time": ("time",),
    }
    paths = []
    for name in ("a.nc", "b.nc"):
        with netCDF4.Dataset(tmp_path / name, "w", format=fmt) as ds:
            ds.createDimension("time", None)
            ds.createDimension("y", 3)
            ds.createDimension("x", 7)
            for var, values in data.items():
                v = ds.createVariable(var, values.dtype, dims[var])
                v.set_auto_maskandscale(False)
                v[...] = values
        paths.append(tmp_path / name)
        data = {k: v.copy() for k, v in data.items()}
        data["T"][4, 2, 6] += np.float32(0.25)  # the very last value of T
        data["T"][1, 0, 0] = np.float32(np.nan)
        data["NX"][2, 3] += 1
        data["FLAG"][0, 0] += 1  # the first byte of the record section
        data["Z"][2, 6] *= 2.0
    return paths[0], paths[1]


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
@pytest.mark.parametrize("seed", [1, 2])
def test_classic_variables_are_read_directly_and_agree_with_netcdf4(
    tmp_path: Path, fmt: str, seed: int, monkeypatch: pytest.MonkeyPatch, raw_reads: list[dict[str, bool]]
) -> None:
    a, b = _classic_pair(tmp_path, fmt, seed)
    direct = compare(a, b).to_dict()
    monkeypatch.setenv("R2O_COMPARE_RAW", "0")
    through_netcdf4 = compare(a, b).to_dict()
    names = ("T", "NX", "FLAG", "Z", "time")
    assert raw_reads == [dict.fromkeys(names, True), dict.fromkeys(names, False)]
    assert direct == through_netcdf4
    fields = {f["name"]: f for f in direct["fields"]}
    assert fields["T"]["differing"] == 2 and fields["T"]["worst"]["index"] == [4, 2, 6]
    assert fields["NX"]["first"]["index"] == [2, 3]
    assert fields["FLAG"]["first"]["index"] == [0, 0]
    assert fields["Z"]["first"]["index"] == [2, 6]
    assert fields["time"]["equal"]


def test_a_single_record_variable_is_not_padded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # alone in the record section, a 3-byte record is not padded to 4 (classic format specification)
    x = np.arange(15, dtype=np.int8).reshape(5, 3)
    paths = []
    for name, values in (("a.nc", x), ("b.nc", np.where(x == 13, 99, x).astype(np.int8))):
        with netCDF4.Dataset(tmp_path / name, "w", format="NETCDF3_CLASSIC") as ds:
            ds.createDimension("time", None)
            ds.createDimension("y", 3)
            v = ds.createVariable("B", "i1", ("time", "y"))
            v.set_auto_maskandscale(False)
            v[...] = values
        paths.append(tmp_path / name)
    from r2o.compare.classic import extents

    extent = extents(paths[0], ["/B"])["/B"]
    assert (extent.record_bytes, extent.record_stride, extent.nbytes) == (3, 3, 15)
    direct = compare(*paths)
    report = only_field(direct)
    assert report.differing == 1 and report.first is not None and report.first.index == (4, 1)
    monkeypatch.setenv("R2O_COMPARE_RAW", "0")
    assert compare(*paths).to_dict() == direct.to_dict()


def test_big_endian_netcdf4_data_is_read_directly(
    tmp_path: Path, field: np.ndarray, monkeypatch: pytest.MonkeyPatch, raw_reads: list[dict[str, bool]]
) -> None:
    paths = []
    for name, values in (("a.nc", field), ("b.nc", np.where(field > 1.9, field + 1, field))):
        with netCDF4.Dataset(tmp_path / name, "w") as ds:
            for i, n in enumerate(values.shape):
                ds.createDimension(f"d{i}", n)
            v = ds.createVariable("T", ">f4", ("d0", "d1", "d2"), contiguous=True, endian="big")
            v[...] = values
        paths.append(tmp_path / name)
    direct = compare(*paths).to_dict()
    monkeypatch.setenv("R2O_COMPARE_RAW", "0")
    assert compare(*paths).to_dict() == direct
    assert raw_reads == [{"T": True}, {"T": False}]
    assert direct["fields"][0]["differing"] == int((field > 1.9).sum()) > 0
