"""CSV, .npy/.npz, JSON, PNG and directory comparators, and format detection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from r2o.compare import CompareRules, Tolerance, compare
from r2o.compare.formats import detect
from r2o.errors import CannotCompareError


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


# ------------------------------------------------------------------ CSV


def test_csv_equal_and_per_column_tolerance(tmp_path: Path) -> None:
    a = text(tmp_path / "a.csv", "site,o3,no2\nA,40.0,10.0\nB,55.5,12.0\n")
    b = text(tmp_path / "b.csv", "site,o3,no2\nA,40.01,10.0\nB,55.5,12.5\n")
    assert compare(a, a).equal
    loose = CompareRules(default=Tolerance(atol=0.02), per_name={"no2": Tolerance(atol=0.6)})
    assert compare(a, b, loose).equal
    tight = CompareRules(default=Tolerance(atol=0.02), per_name={"no2": Tolerance(atol=0.4)})
    result = compare(a, b, tight)
    assert not result.equal
    reports = {f.name: f for f in result.fields}
    assert reports["column o3"].equal and not reports["column no2"].equal
    assert reports["column no2"].first is not None and reports["column no2"].first.index == (2,)


def test_csv_structure_and_text_cells(tmp_path: Path) -> None:
    a = text(tmp_path / "a.csv", "site,o3,flag\nA,1,ok\nB,2,ok\n")
    b = text(tmp_path / "b.csv", "site,o3,extra\nA,1,x\nC,2,x\nD,3,x\n")
    result = compare(a, b)
    found = {(d.where, d.message) for d in result.differences}
    assert ("column flag", "only in a") in found
    assert ("column extra", "only in b") in found
    assert ("row count", "a has 2 data rows, b has 3") in found
    site = next(f for f in result.fields if f.name == "column site")
    assert site.differing == 1 and site.first is not None and site.first.b == "C"


def test_csv_nan_cells(tmp_path: Path) -> None:
    a = text(tmp_path / "a.csv", "x\nnan\n1\n")
    b = text(tmp_path / "b.csv", "x\nNaN\n1\n")
    assert compare(a, b).equal
    assert not compare(a, b, CompareRules(nan_equal=False)).equal


# ------------------------------------------------------------------ .npy / .npz


def test_npy_cases(tmp_path: Path) -> None:
    x = np.linspace(0, 1, 50).reshape(5, 10)
    np.save(tmp_path / "a.npy", x)
    y = x.copy()
    y[3, 7] += 1e-3
    np.save(tmp_path / "b.npy", y)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    np.save(tmp_path / "s.npy", x.reshape(10, 5))
    np.save(tmp_path / "d.npy", x.astype("f4"))
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert compare(a, tmp_path / "f.npy").equal  # memory order does not matter
    result = compare(a, b, CompareRules(default=Tolerance(atol=1e-4)))
    assert not result.equal and result.fields[0].first is not None
    assert result.fields[0].first.index == (3, 7)
    assert compare(a, b, CompareRules(default=Tolerance(atol=1.1e-3))).equal
    shape = compare(a, tmp_path / "s.npy")
    assert not shape.equal and shape.fields == () and "shape" in shape.differences[0].message
    dtype = compare(a, tmp_path / "d.npy", CompareRules(default=Tolerance(rtol=1e-6)))
    assert not dtype.equal and "dtype a=float64 b=float32" in dtype.differences[0].message
    assert dtype.fields[0].equal


def test_npy_nan_and_integer(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.array([np.nan, 1.0]))
    np.save(tmp_path / "b.npy", np.array([np.nan, 1.0]))
    assert compare(tmp_path / "a.npy", tmp_path / "b.npy").equal
    np.save(tmp_path / "i.npy", np.array([1, 2, 3]))
    np.save(tmp_path / "j.npy", np.array([1, 2, 4]))
    assert not compare(tmp_path / "i.npy", tmp_path / "j.npy").equal
    assert compare(tmp_path / "i.npy", tmp_path / "j.npy", CompareRules(default=Tolerance(atol=1))).equal


def test_npy_truncated_and_pickled(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(1000.0))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:500])
    with pytest.raises(CannotCompareError, match=r"cut\.npy"):
        compare(tmp_path / "a.npy", tmp_path / "cut.npy")
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CannotCompareError, match=r"obj\.npy"):
        compare(tmp_path / "obj.npy", tmp_path / "obj.npy")


def test_npz_members(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", u=np.zeros(3), v=np.ones(2), w=np.arange(3))
    np.savez(tmp_path / "b.npz", u=np.zeros(3), v=np.array([1.0, 1.5]), z=np.arange(3))
    result = compare(tmp_path / "a.npz", tmp_path / "b.npz", CompareRules(per_name={"v": Tolerance(atol=1)}))
    found = {(d.where, d.message) for d in result.differences}
    assert found == {("array w", "only in a"), ("array z", "only in b")}
    assert all(f.equal for f in result.fields)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CannotCompareError):
        compare(tmp_path / "a.npz", tmp_path / "bad.npz")


# ------------------------------------------------------------------ JSON


def dump(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_json_structure_and_tolerance(tmp_path: Path) -> None:
    a = dump(tmp_path / "a.json", {"days": [{"mda8": 70.1, "ok": True}], "site": "X", "n": 3})
    b = dump(tmp_path / "b.json", {"days": [{"mda8": 70.1000001, "ok": True}], "site": "X", "n": 3})
    assert not compare(a, b).equal
    assert compare(a, b, CompareRules(default=Tolerance(rtol=1e-6))).equal
    assert compare(a, b, CompareRules(per_name={"days[0].mda8": Tolerance(atol=1e-3)})).equal
    assert compare(a, b, CompareRules(per_name={"mda8": Tolerance(atol=1e-3)})).equal


def test_json_differences(tmp_path: Path) -> None:
    a = dump(tmp_path / "a.json", {"x": 1, "y": [1, 2], "flag": True, "gone": None})
    b = dump(tmp_path / "b.json", {"x": 1.0, "y": [1, 2, 3], "flag": 1, "new": "s"})
    result = compare(a, b, CompareRules(default=Tolerance(atol=10)))
    found = {(d.where, d.message) for d in result.differences}
    assert ("y", "length a=2 b=3") in found
    assert ("flag", "type a=boolean b=number") in found
    assert ("gone", "only in a") in found and ("new", "only in b") in found
    assert not any(d.where == "x" for d in result.differences)  # 1 and 1.0 are the same number


def test_json_invalid(tmp_path: Path) -> None:
    a = dump(tmp_path / "a.json", {"x": 1})
    bad = text(tmp_path / "bad.json", '{"x": 1, "y": [1, 2')
    with pytest.raises(CannotCompareError, match=r"bad\.json: not valid JSON"):
        compare(a, bad)


# ------------------------------------------------------------------ PNG


def png(path: Path, pixels: np.ndarray, note: str = "") -> Path:
    info = PngImagePlugin.PngInfo()
    if note:
        info.add_text("Comment", note)
    Image.fromarray(pixels).save(path, pnginfo=info)
    return path


def test_png_pixels_not_metadata(tmp_path: Path) -> None:
    pixels = np.zeros((20, 30, 3), dtype=np.uint8)
    a = png(tmp_path / "a.png", pixels, "made at 10:00")
    b = png(tmp_path / "b.png", pixels, "made at 11:00")
    assert compare(a, b).equal
    assert not compare(a, b, CompareRules(mode="exact")).equal


def test_png_threshold(tmp_path: Path) -> None:
    pixels = np.zeros((20, 30, 3), dtype=np.uint8)
    other = pixels.copy()
    other[5, 7] = (255, 0, 0)
    a, b = png(tmp_path / "a.png", pixels), png(tmp_path / "b.png", other)
    result = compare(a, b)
    assert not result.equal
    report = result.fields[0]
    assert report.not_identical == 1 and report.first is not None and report.first.index == (5, 7)
    metric = report.nrms
    assert metric is not None and metric == pytest.approx(np.sqrt(255.0**2 / (20 * 30 * 3)) / 255)
    assert compare(a, b, CompareRules(png_threshold=metric)).equal
    assert not compare(a, b, CompareRules(png_threshold=metric * 0.99)).equal


def test_png_size_mismatch_and_truncated(tmp_path: Path) -> None:
    a = png(tmp_path / "a.png", np.zeros((20, 30), dtype=np.uint8))
    b = png(tmp_path / "b.png", np.zeros((21, 30), dtype=np.uint8))
    result = compare(a, b)
    assert not result.equal and result.differences[0].where == "size"
    cut = tmp_path / "cut.png"
    cut.write_bytes(
        png(
            tmp_path / "big.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
        ).read_bytes()[:300]
    )
    with pytest.raises(CannotCompareError, match=r"cut\.png"):
        compare(tmp_path / "big.png", cut)


# ------------------------------------------------------------------ directories


def test_tree_recursive_with_missing_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        text(root / "same.txt", "x\n")
        text(root / "sub" / "deep.csv", "v\n1\n")
    text(a / "only_a.txt", "x\n")
    text(b / "sub" / "only_b.txt", "x\n")
    text(b / "sub" / "deep.csv", "v\n2\n")
    result = compare(a, b)
    assert result.kind == "directory" and not result.equal
    found = {(d.where, d.message) for d in result.differences}
    assert found == {("only_a.txt", "only in a"), ("sub/only_b.txt", "only in b")}
    verdicts = {c.a.relative_to(a).as_posix(): c.equal for c in result.children}
    assert verdicts == {"same.txt": True, "sub/deep.csv": False}
    assert compare(a, b, CompareRules(default=Tolerance(atol=1))).equal is False  # files still missing
    assert "only_a.txt: only in a" in result.render_text()


def test_tree_lists_every_unreadable_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        text(root / "ok.txt", "x\n")
    dump(a / "x.json", {"k": 1})
    text(b / "x.json", "{")
    np.save(a / "y.npy", np.zeros(3))
    text(b / "y.npy", "nope")
    with pytest.raises(CannotCompareError) as info:
        compare(a, b)
    message = str(info.value)
    assert "2 file(s) could not be compared" in message
    assert "x.json" in message and "y.npy" in message


def test_directory_against_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    f = text(tmp_path / "f.txt", "x")
    result = compare(tmp_path / "d", f)
    assert not result.equal and "a is a directory, b is a file" in result.differences[0].message


# ------------------------------------------------------------------ detection


def test_detection_by_extension_then_magic(tmp_path: Path) -> None:
    np.save(tmp_path / "arr.npy", np.zeros(2))
    (tmp_path / "arr.npy").rename(tmp_path / "arr_noext")
    png(tmp_path / "img.png", np.zeros((2, 2), np.uint8)).rename(tmp_path / "img_noext")
    text(tmp_path / "doc", '  {"a": 1}')
    text(tmp_path / "plain", "hello\n")
    assert detect(tmp_path / "arr_noext") == "npy"
    assert detect(tmp_path / "img_noext") == "png"
    assert detect(tmp_path / "doc") == "json"
    assert detect(tmp_path / "plain") == "text"
    result = compare(tmp_path / "arr_noext", tmp_path / "img_noext")
    assert not result.equal and result.differences[0].message == "a is npy, b is png"


def test_forced_format(tmp_path: Path) -> None:
    a = text(tmp_path / "a.dat", "x,y\n1,2\n")
    b = text(tmp_path / "b.dat", "x,y\n1,2.0000001\n")
    result = compare(a, b, CompareRules(format="csv", default=Tolerance(rtol=1e-6)))
    assert result.kind == "csv" and result.equal
