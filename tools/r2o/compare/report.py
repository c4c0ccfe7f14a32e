"""The result of a comparison as data: structural differences, per-field statistics, children.

``Comparison.render_text()`` prints a report meant to be read like CESM's cprnc output;
``Comparison.to_dict()`` gives the same content as JSON-ready data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from r2o.compare.rules import Tolerance


@dataclass(frozen=True)
class Difference:
    """A difference that is not a value statistic: a missing variable, a dtype, an attribute, a line."""

    where: str  # "dimension lev", "variable O3: attribute units", "line 12", "column NO2 row 3"
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"where": self.where, "message": self.message}


@dataclass(frozen=True)
class Location:
    """One position in a field: its index, coordinate values when known, and both values there."""

    index: tuple[int, ...]
    a: float | str | None
    b: float | str | None
    coords: tuple[tuple[str, str], ...] = ()  # (dimension, coordinate value) pairs

    def describe(self) -> str:
        where = "(" + ", ".join(str(i) for i in self.index) + ")"
        if self.coords:
            where += " [" + ", ".join(f"{k}={v}" for k, v in self.coords) + "]"
        return f"{where}: a={_value(self.a)} b={_value(self.b)}"

    def to_dict(self) -> dict[str, object]:
        return {
            "index": list(self.index),
            "coords": dict(self.coords),
            "a": _json_value(self.a),
            "b": _json_value(self.b),
        }


@dataclass(frozen=True)
class FieldReport:
    """Value statistics of one netCDF variable, CSV column, array, or text file's numbers."""

    name: str
    equal: bool
    size: int  # positions compared
    differing: int  # positions out of tolerance, NaN mismatches included
    not_identical: int = 0  # positions whose stored bits differ, within tolerance or not
    fill_mismatch: int = 0  # fill value on one side only
    nan_mismatch: int = 0  # NaN on one side only
    max_abs: float = 0.0
    max_rel: float = 0.0
    rms: float = 0.0
    nrms: float | None = 0.0
    first: Location | None = None  # first position out of tolerance
    worst: Location | None = None  # largest absolute difference among those out of tolerance
    first_fill: Location | None = None  # first fill-pattern difference
    tolerance: Tolerance = field(default_factory=Tolerance)
    dtype: str = ""
    shape: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "equal": self.equal,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "size": self.size,
            "differing": self.differing,
            "not_identical": self.not_identical,
            "fill_mismatch": self.fill_mismatch,
            "nan_mismatch": self.nan_mismatch,
            "max_abs_diff": _json_value(self.max_abs),
            "max_rel_diff": _json_value(self.max_rel),
            "rms": _json_value(self.rms),
            "normalized_rms": _json_value(self.nrms),
            "first": self.first.to_dict() if self.first else None,
            "worst": self.worst.to_dict() if self.worst else None,
            "first_fill_mismatch": self.first_fill.to_dict() if self.first_fill else None,
            "tolerance": {
                "rtol": self.tolerance.rtol,
                "atol": self.tolerance.atol,
                "ulp": self.tolerance.ulp,
            },
        }

    def render(self, indent: str = "  ") -> list[str]:
        kind = f" {self.dtype}" if self.dtype else ""
        shape = f" {self.shape}" if self.shape else ""
        if self.equal and self.not_identical == 0:
            return [f"{indent}{self.name}{kind}{shape}: identical ({self.size:,} values)"]
        verdict = "equal within tolerance" if self.equal else "DIFFERENT"
        lines = [
            f"{indent}{self.name}{kind}{shape}: {verdict} ({self.tolerance.describe()})",
            f"{indent}  {self.differing:,} of {self.size:,} values differ"
            f" ({self.not_identical:,} not bit-identical)",
        ]
        if self.fill_mismatch:
            lines.append(f"{indent}  fill-value pattern differs at {self.fill_mismatch:,} positions")
        if self.nan_mismatch:
            lines.append(f"{indent}  NaN on one side only at {self.nan_mismatch:,} positions")
        nrms = "n/a" if self.nrms is None else f"{self.nrms:.4e}"
        lines.append(
            f"{indent}  max abs diff {self.max_abs:.4e}   max rel diff {self.max_rel:.4e}"
            f"   RMS {self.rms:.4e}   normalized RMS {nrms}"
        )
        for label, loc in (("first", self.first), ("worst", self.worst), ("first fill", self.first_fill)):
            if loc is not None:
                lines.append(f"{indent}  {label} at {loc.describe()}")
        return lines


@dataclass(frozen=True)
class Comparison:
    """The verdict on two files (or directories) and everything that supports it."""

    equal: bool
    kind: str  # netcdf, text, csv, npy, npz, json, png, binary, directory
    a: Path
    b: Path
    differences: tuple[Difference, ...] = ()
    fields: tuple[FieldReport, ...] = ()
    children: tuple[Comparison, ...] = ()
    notes: tuple[str, ...] = field(default=())  # informational lines, never part of the verdict

    def render_text(self, indent: str = "") -> str:
        return "\n".join(self._lines(indent))

    def _lines(self, indent: str) -> list[str]:
        verdict = "EQUAL" if self.equal else "DIFFERENT"
        lines = [f"{indent}{self.kind}: {self.a} vs {self.b}: {verdict}"]
        lines.extend(f"{indent}  note: {n}" for n in self.notes)
        lines.extend(f"{indent}  {d.where}: {d.message}" for d in self.differences)
        identical = [f for f in self.fields if f.equal and f.not_identical == 0]
        shown = [f for f in self.fields if not (f.equal and f.not_identical == 0)]
        for report in shown:
            lines.extend(report.render(indent + "  "))
        if identical and len(identical) > 12:
            lines.append(f"{indent}  {len(identical)} fields identical")
        else:
            for report in identical:
                lines.extend(report.render(indent + "  "))
        if self.children:
            same = [c for c in self.children if c.equal]
            for child in self.children:
                if not child.equal:
                    lines.extend(child._lines(indent + "  "))
            if same:
                lines.append(f"{indent}  {len(same)} of {len(self.children)} files equal")
        if self.fields:
            bad = sum(1 for f in self.fields if not f.equal)
            lines.append(f"{indent}  summary: {bad} of {len(self.fields)} fields differ")
        return lines

    def to_dict(self) -> dict[str, object]:
        return {
            "equal": self.equal,
            "kind": self.kind,
            "a": str(self.a),
            "b": str(self.b),
            "notes": list(self.notes),
            "differences": [d.to_dict() for d in self.differences],
            "fields": [f.to_dict() for f in self.fields],
            "children": [c.to_dict() for c in self.children],
        }


def _value(v: float | str | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.9g}"
    return repr(v)


def _json_value(v: float | str | None) -> float | str | None:
    """JSON has no NaN or infinity: those become strings."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
