"""How two files are compared: the comparison mode, tolerances, NaN/fill rules and ignored attributes.

The tolerance test is symmetric: a pair of values ``(a, b)`` is *equal* when::

    |a - b| <= atol + rtol * max(|a|, |b|)

so swapping the two files never changes a verdict (numpy's ``isclose`` scales by ``|b|`` only and
is not symmetric). With ``rtol = atol = 0`` the test is ``a == b``: ``-0.0`` equals ``0.0``.
Integers compared with zero tolerance are compared exactly (no detour through floating point).

The rules are applied in this order, for each position of a variable (array, column, ...):

1. **Bit-identical** stored values are equal, except NaN when ``nan_equal`` is false. This is the
   fast path: large arrays are compared byte by byte first and the tolerance is only evaluated
   where bytes differ.
2. **Fill values** (netCDF ``_FillValue``, else ``missing_value``, else the netCDF default fill of
   the type) are compared on the stored (packed) values. Fill on both sides is equal; fill on one
   side only is a *fill-pattern difference*, counted and reported separately from value
   differences, and it makes the variable differ whatever the tolerance.
3. **NaN**: NaN on both sides is equal when ``nan_equal`` is true (the default), whatever the NaN
   payload bits; NaN on one side only always differs (counted as a NaN mismatch).
4. **Infinities** are equal only to the same infinity.
5. **Finite values** (after unpacking ``scale_factor``/``add_offset``) pass the tolerance test
   above, *or* are at most ``ulp`` units in the last place apart when an ULP tolerance is given.
   The ULP distance is counted on the stored floating-point type (float32 or float64), on the
   ordered integer line where ``-0.0`` and ``0.0`` are the same point; it does not apply to
   integers or packed data.

Statistics reported per variable (in the spirit of CESM's cprnc): the count of values out of
tolerance, of values not bit-identical, the maximum absolute difference ``|a - b|``, the maximum
relative difference ``|a - b| / max(|a|, |b|)`` (0 where both are 0), the RMS of ``a - b`` over
the positions valid (neither fill nor NaN) on both sides, and the normalized RMS: that RMS divided
by the range (max - min) of the valid values of both files (none when the range is 0).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["exact", "text", "numeric"]
MODES: tuple[Mode, ...] = ("exact", "text", "numeric")

#: Attributes that record when or how a file was made rather than what it contains. Matched
#: case-sensitively against global and variable attributes; shell-style patterns are allowed.
DEFAULT_IGNORED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        # CF / ACDD / common tools
        "history",
        "History",
        "HISTORY",
        "history_of_appended_files",
        "creation_date",
        "creation_time",
        "date_created",
        "date_modified",
        "date_issued",
        "date_metadata_modified",
        "production_date",
        "NCO",
        "nco_openmp_thread_number",
        "CDO",
        "CDI",
        "_NCProperties",
        # Models-3 I/O API: creation/write dates and times, execution id
        "CDATE",
        "CTIME",
        "WDATE",
        "WTIME",
        "EXEC_ID",
    }
)


@dataclass(frozen=True)
class Tolerance:
    """Allowed difference for one variable: ``|a-b| <= atol + rtol*max(|a|,|b|)``, or ``ulp`` ULPs."""

    rtol: float = 0.0
    atol: float = 0.0
    ulp: int | None = None

    def __post_init__(self) -> None:
        if not (self.rtol >= 0.0 and self.atol >= 0.0):  # also rejects NaN
            raise ValueError(f"tolerances must be >= 0, got rtol={self.rtol!r} atol={self.atol!r}")
        if self.ulp is not None and self.ulp < 0:
            raise ValueError(f"ulp must be >= 0, got {self.ulp!r}")

    @property
    def is_zero(self) -> bool:
        return self.rtol == 0.0 and self.atol == 0.0 and not self.ulp

    def describe(self) -> str:
        text = f"rtol={self.rtol:g} atol={self.atol:g}"
        return f"{text} ulp={self.ulp}" if self.ulp is not None else text


@dataclass(frozen=True)
class CompareRules:
    """Everything that decides whether two files are equal.

    ``mode``: ``exact`` compares bytes (bit for bit); ``text`` compares text, CSV and JSON files line
    by line exactly (line endings normalized) and every other format value by value with zero
    tolerance; ``numeric`` uses the format's structured comparator with the tolerances below.
    ``per_name`` overrides ``default`` for a netCDF variable, CSV column, npz array or JSON key path
    (``a.b[2].c``; a bare key name also matches at any depth).
    ``png_threshold``: images are equal when the RMS of their channel differences, as a fraction
    of full scale (0..1), is at most this value; 0 demands identical pixels.
    ``format``: force a comparator (netcdf, text, csv, npy, npz, json, png, binary); otherwise it
    is chosen by file extension, then by magic bytes.
    """

    mode: Mode = "numeric"
    default: Tolerance = Tolerance()
    per_name: Mapping[str, Tolerance] = field(default_factory=dict)
    nan_equal: bool = True
    ignore_attributes: frozenset[str] = DEFAULT_IGNORED_ATTRIBUTES
    png_threshold: float = 0.0
    format: str | None = None
    # Every field name the comparators met, on either side: a per_name entry naming none of them is
    # a mistake the caller reports (r2o compare --var for a variable in neither file). Shared, on
    # purpose, by the copies dataclasses.replace makes for the files of a directory.
    names_seen: set[str] = field(default_factory=set, compare=False, repr=False)

    def saw(self, *names: str) -> None:
        self.names_seen.update(names)

    def unknown_names(self) -> list[str]:
        """The per_name entries that matched no field of the files compared."""
        return sorted(n for n in self.per_name if n not in self.names_seen)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.png_threshold >= 0.0:
            raise ValueError(f"png_threshold must be >= 0, got {self.png_threshold!r}")

    def tolerance_for(self, name: str) -> Tolerance:
        """The tolerance of one named field; ``text`` mode forces zero tolerance."""
        if self.mode != "numeric":
            return Tolerance()
        found = self.per_name.get(name)
        if found is None and "/" in name:  # netCDF group path "/grp/var": also match the bare name
            found = self.per_name.get(name.rsplit("/", 1)[-1])
        return found if found is not None else self.default

    def ignores_attribute(self, name: str) -> bool:
        if name in self.ignore_attributes:
            return True
        return any(
            fnmatch.fnmatchcase(name, pattern)
            for pattern in self.ignore_attributes
            if any(c in pattern for c in "*?[")
        )
