"""Text comparator: exact lines, numeric-tolerant lines, bytes."""

from __future__ import annotations

from pathlib import Path

from r2o.compare import CompareRules, Tolerance, compare
from r2o.compare.text import split_line


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


NUMERIC = CompareRules(default=Tolerance(rtol=1e-6))
TEXT = CompareRules(mode="text")


def test_identical_text(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "1 0\n0 1\n")
    b = write(tmp_path, "b.txt", "1 0\n0 1\n")
    for rules in (NUMERIC, TEXT, CompareRules(mode="exact")):
        assert compare(a, b, rules).equal


def test_text_mode_reports_differing_lines(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "alpha\nbeta\ngamma\n")
    b = write(tmp_path, "b.txt", "alpha\nBETA\ngamma\n")
    result = compare(a, b, TEXT)
    assert not result.equal
    assert [(d.where, d.message) for d in result.differences] == [("line 2", "a='beta' b='BETA'")]


def test_line_endings_normalized_in_text_mode_but_not_exact(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "x\ny\n")
    b = write(tmp_path, "b.txt", "x\r\ny\r\n")
    assert compare(a, b, TEXT).equal
    exact = compare(a, b, CompareRules(mode="exact"))
    assert not exact.equal and any(d.where == "size" for d in exact.differences)


def test_missing_lines(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "x\ny\nz\n")
    b = write(tmp_path, "b.txt", "x\ny\n")
    result = compare(a, b, TEXT)
    found = {(d.where, d.message) for d in result.differences}
    assert ("line 3", "a='z' b=(no line)") in found
    assert ("line count", "a has 3 lines, b has 2") in found


def test_numbers_inside_lines_within_tolerance(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "step 1: O3 = 1.0000000e-02 ppm, T=  300.0 K\n")
    b = write(tmp_path, "b.txt", "step 1: O3 = 1.0000005E-02 ppm, T= 300.00 K\n")
    result = compare(a, b, NUMERIC)
    assert result.equal
    assert result.fields[0].not_identical == 1
    assert not compare(a, b, CompareRules(default=Tolerance(rtol=1e-8))).equal
    assert not compare(a, b, TEXT).equal


def test_number_just_above_tolerance_reports_line_and_rank(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "header\n1.0 2.0 3.0\n")
    b = write(tmp_path, "b.txt", "header\n1.0 2.0 3.1\n")
    result = compare(a, b, CompareRules(default=Tolerance(atol=0.0999)))
    assert not result.equal
    report = result.fields[0]
    assert report.differing == 1
    assert report.first is not None and report.first.index == (2, 2)
    assert compare(a, b, CompareRules(default=Tolerance(atol=0.10001))).equal


def test_text_around_numbers_must_match(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "O3 = 1.0\n")
    b = write(tmp_path, "b.txt", "NO = 1.0\n")
    result = compare(a, b, CompareRules(default=Tolerance(rtol=1.0)))
    assert not result.equal and result.differences[0].where == "line 1"


def test_nan_tokens(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "x nan\n")
    b = write(tmp_path, "b.txt", "x NaN\n")
    assert compare(a, b, NUMERIC).equal
    assert not compare(a, b, CompareRules(nan_equal=False)).equal
    c = write(tmp_path, "c.txt", "x 1.0\n")
    result = compare(a, c, CompareRules(default=Tolerance(atol=1e9)))
    assert not result.equal and result.fields[0].nan_mismatch == 1


def test_fortran_exponent_and_words() -> None:
    parts, numbers = split_line("RATE 1.5D+03 for NO2 information")
    assert numbers == [1500.0, 2.0]
    assert parts == ["RATE", "for NO", "information"]


def test_binary_file_without_extension_compared_as_bytes(tmp_path: Path) -> None:
    a = write(tmp_path, "a.bin", b"\x00\x01\x02\x03" * 10)
    b = write(tmp_path, "b.bin", b"\x00\x01\x02\x04" * 10)
    result = compare(a, b)
    assert result.kind == "binary" and not result.equal
    assert "first at offset 3" in result.render_text()
