"""aq-compliance: MDA8 ozone, exceedance days and the 4th-highest MDA8 from a directory of CONC files.

Reads every ``*.nc`` in the input directory (I/O API CONC files of consecutive UTC days, e.g. from
cmaq), takes O3 of the lowest layer (ppmV -> ppb), shifts UTC to local standard time, and applies
EPA's MDA8 rules (mda8.py) to every cell and every day that has a file; the windows of a day's
evening use the next day's file when it is present. Writes mda8.nc (per day and per cell), a PNG map
of the highest MDA8 with the exceedance cells outlined, and a short text report.

Usage: python3 compliance.py --input-dir conc/ --outdir OUT [--utc-offset -7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mda8 as rules
import netCDF4
import numpy as np
from aqdomain import domain, ioapi, surface

GRID_ATTRS = ("GDTYP", "P_ALP", "P_BET", "P_GAM", "XCENT", "YCENT", "XORIG", "YORIG", "XCELL", "YCELL")
FILL = -9999.0


class ComplianceInputError(Exception):
    """A bad input directory or file; main() prints it and exits with status 3."""


@dataclass
class HourlyOzone:
    days: list[dt.date]  # UTC dates that have a file (the reported LST days)
    hourly_lst: np.ndarray  # (nhours, ny, nx) ppb, NaN missing; index 0 = 00:00 LST of days[0]
    files: list[str]
    n_hours_read: int
    grid: dict[str, float]
    model: str  # the files' EXEC_ID (the program that wrote them), e.g. cmaq-aqcast


def read_directory(input_dir: Path, utc_offset_h: int) -> HourlyOzone:
    """Surface O3 of every CONC file in ``input_dir`` on one local-standard-time hourly axis."""
    if not input_dir.is_dir():
        raise ComplianceInputError(f"{input_dir}: the input directory does not exist")
    paths = sorted(p for p in input_dir.glob("*.nc") if p.is_file())
    if not paths:
        raise ComplianceInputError(
            f"{input_dir}: no *.nc CONC files found; pass the directory of cmaq CONC files"
        )
    fields: dict[dt.datetime, tuple[np.ndarray, str]] = {}
    file_days: set[dt.date] = set()
    grid: dict[str, float] | None = None
    shape: tuple[int, int] | None = None
    models: list[str] = []
    for path in paths:
        try:
            ds = netCDF4.Dataset(path)
        except OSError as exc:
            raise ComplianceInputError(f"{path}: not a readable netCDF file ({exc})") from exc
        with ds:
            if "O3" not in ds.variables:
                raise ComplianceInputError(f"{path}: variable O3 is missing; expected an I/O API CONC file")
            if "TFLAG" not in ds.variables and "SDATE" not in ds.ncattrs():
                raise ComplianceInputError(
                    f"{path}: neither TFLAG nor SDATE/STIME/TSTEP gives the file's times"
                )
            try:
                these = {k: float(ds.getncattr(k)) for k in GRID_ATTRS}
            except AttributeError as exc:
                raise ComplianceInputError(f"{path}: missing I/O API grid attribute ({exc})") from exc
            if grid is None:
                grid = these
            elif these != grid:
                raise ComplianceInputError(f"{path}: its grid attributes differ from {paths[0].name}'s")
            times = ioapi.read_times(ds)
            models.append(str(getattr(ds, "EXEC_ID", "")).strip() or "unknown model")
            o3 = ds.variables["O3"]
            if o3.ndim != 4:
                raise ComplianceInputError(
                    f"{path}: O3 must be (TSTEP, LAY, ROW, COL), has {o3.ndim} dimensions"
                )
            data = np.ma.filled(np.ma.asarray(o3[:, 0], dtype=np.float64), np.nan) * 1000.0
        if shape is None:
            shape = data.shape[1:]
        elif data.shape[1:] != shape:
            raise ComplianceInputError(
                f"{path}: grid {data.shape[1:]} differs from {paths[0].name}'s {shape}"
            )
        if not times:
            raise ComplianceInputError(f"{path}: the file holds no time steps")
        file_days.add(times[0].date())
        for when, field in zip(times, data, strict=True):
            if when.minute or when.second:
                raise ComplianceInputError(
                    f"{path}: time step {when} is not on the hour; hourly files expected"
                )
            if when in fields:
                raise ComplianceInputError(
                    f"{path}: hour {when:%Y-%m-%d %H:%M} UTC is also in {fields[when][1]}"
                )
            fields[when] = (np.where(field >= 0.0, field, np.nan), path.name)
    assert grid is not None and shape is not None
    days = sorted(file_days)
    origin = dt.datetime(days[0].year, days[0].month, days[0].day)  # 00:00 LST of the first day
    nhours = 24 * ((days[-1] - days[0]).days + 1) + rules.LAST_START_LST + rules.WINDOW_HOURS
    hourly = np.full((nhours, *shape), np.nan)
    for when, (field, _) in fields.items():
        idx = int((when + dt.timedelta(hours=utc_offset_h) - origin).total_seconds() // 3600)
        if 0 <= idx < nhours:
            hourly[idx] = field
    return HourlyOzone(
        days=days,
        hourly_lst=hourly,
        files=[p.name for p in paths],
        n_hours_read=len(fields),
        grid=grid,
        model=", ".join(sorted(set(models))),
    )


def _lat_lon(grid: dict[str, float], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """Cell-centre lat/lon when the files are on the reference projection (aqdomain's formulas)."""
    ref = {
        "GDTYP": 2.0,
        "P_ALP": domain.TRUELAT1,
        "P_BET": domain.TRUELAT2,
        "P_GAM": domain.STAND_LON,
        "XCENT": domain.STAND_LON,
        "YCENT": domain.MOAD_CEN_LAT,
    }
    if any(abs(grid[k] - v) > 1e-9 for k, v in ref.items()):
        return None
    ny, nx = shape
    x = grid["XORIG"] + (np.arange(nx) + 0.5) * grid["XCELL"]
    y = grid["YORIG"] + (np.arange(ny) + 0.5) * grid["YCELL"]
    xx, yy = np.meshgrid(x, y)
    lat, lon = domain.xy_to_ll(xx, yy)
    return lat, lon


def _replace_atomically(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def write_netcdf(
    path: Path, oz: HourlyOzone, res: rules.Mda8Result, utc_offset_h: int, days: list[dt.date]
) -> None:
    ndays = len(days)
    ny, nx = res.highest.shape
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with netCDF4.Dataset(tmp, "w", format="NETCDF3_CLASSIC") as ds:
            ds.createDimension("day", ndays)
            ds.createDimension("ROW", ny)
            ds.createDimension("COL", nx)
            ds.setncattr("title", "MDA8 ozone and 2015 ozone NAAQS statistics (AQcast aq-compliance)")
            ds.setncattr("standard_ppb", np.float32(rules.STANDARD_PPB))
            ds.setncattr("utc_offset_hours", np.int32(utc_offset_h))
            ds.setncattr(
                "rules",
                "17 8-h windows starting 07-23 LST; window valid with >= 6 of 8 hours "
                "(mean of available hours); window averages truncated to 1 ppb; MDA8 = max valid window; "
                "day valid with >= 13 of 17 valid windows or MDA8 > standard; "
                "exceedance = valid day with MDA8 > 70 ppb; 4th-highest over valid days",
            )
            ds.setncattr("source_files", " ".join(oz.files))
            ds.setncattr("model", oz.model)
            ds.setncattr(
                "lookahead_days",
                " ".join(str(d) for d in oz.days if d not in days) or "none",
            )
            for key, value in oz.grid.items():
                ds.setncattr(key, np.int32(value) if key == "GDTYP" else np.float64(value))
            date = ds.createVariable("DATE", "i4", ("day",))
            date.setncattr("long_name", "local standard time day (YYYYMMDD)")
            date[:] = [d.year * 10000 + d.month * 100 + d.day for d in days]

            def field(name: str, dims: tuple[str, ...], data: np.ndarray, units: str, long_name: str) -> None:
                var = ds.createVariable(name, "f4", dims, fill_value=np.float32(FILL))
                var.setncattr("units", units)
                var.setncattr("long_name", long_name)
                var[:] = np.where(np.isfinite(data), data, FILL).astype(np.float32)

            def count(name: str, dims: tuple[str, ...], data: np.ndarray, long_name: str) -> None:
                var = ds.createVariable(name, "i2", dims)
                var.setncattr("long_name", long_name)
                var[:] = data.astype(np.int16)

            d3 = ("day", "ROW", "COL")
            field("MDA8", d3, res.mda8, "ppb", "daily maximum 8-hour average ozone (truncated to 1 ppb)")
            count("VALID_WINDOWS", d3, res.valid_windows, "number of valid 8-hour windows (of 17)")
            count(
                "DAY_VALID",
                d3,
                res.day_valid,
                "1 when the day is valid (>= 13 windows or above the standard)",
            )
            field("MAX_MDA8", ("ROW", "COL"), res.highest, "ppb", "highest MDA8 over valid days")
            count("EXCEEDANCE_DAYS", ("ROW", "COL"), res.exceedance_days, "valid days with MDA8 > 70 ppb")
            count("VALID_DAYS", ("ROW", "COL"), res.valid_days, "number of valid days")
            field(
                "FOURTH_HIGHEST",
                ("ROW", "COL"),
                res.fourth_highest,
                "ppb",
                "4th-highest MDA8 over valid days",
            )
            latlon = _lat_lon(oz.grid, (ny, nx))
            if latlon is not None:
                field("LAT", ("ROW", "COL"), latlon[0], "degrees_north", "cell-centre latitude")
                field("LON", ("ROW", "COL"), latlon[1], "degrees_east", "cell-centre longitude")
        _replace_atomically(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# Places drawn on the map when they fall inside it (city centres; the reference domain's city and town
# sit at Denver's and Boulder's coordinates)
PLACES = (
    ("Denver", 39.74, -104.99),
    ("Boulder", 40.015, -105.27),
    ("Fort Collins", 40.585, -105.084),
    ("Greeley", 40.423, -104.709),
)
GRATICULE_DEG = 0.5
TERRAIN_CONTOUR_M = 500.0


def _graticule(ax: object, x_edges: np.ndarray, y_edges: np.ndarray) -> None:
    """Latitude/longitude lines every 0.5 degree on the Lambert grid, labelled on the map's edges."""
    x0, x1, y0, y1 = x_edges[0], x_edges[-1], y_edges[0], y_edges[-1]
    corners_x, corners_y = np.meshgrid([x0, x1], [y0, y1])
    lat_c, lon_c = domain.xy_to_ll(corners_x * 1000.0, corners_y * 1000.0)
    lats = np.arange(np.floor(lat_c.min() / GRATICULE_DEG) * GRATICULE_DEG, lat_c.max() + 1.0, GRATICULE_DEG)
    lons = np.arange(np.floor(lon_c.min() / GRATICULE_DEG) * GRATICULE_DEG, lon_c.max() + 1.0, GRATICULE_DEG)
    dense_lon = np.linspace(lon_c.min() - 1.0, lon_c.max() + 1.0, 200)
    dense_lat = np.linspace(lat_c.min() - 1.0, lat_c.max() + 1.0, 200)
    style = {"color": "0.25", "linewidth": 0.6, "linestyle": ":", "zorder": 3}
    for lat in lats:
        x, y = domain.ll_to_xy(np.full_like(dense_lon, lat), dense_lon)
        ax.plot(x / 1000.0, y / 1000.0, **style)  # type: ignore[attr-defined]
        # label where the parallel meets the map's west edge
        inside = (y / 1000.0 > y0) & (y / 1000.0 < y1) & (np.abs(x / 1000.0 - x0) < 3.0)
        if inside.any():
            ax.annotate(  # type: ignore[attr-defined]
                f"{lat:.1f}°N", (x0, float(np.mean(y[inside])) / 1000.0), xytext=(-3, 0),
                textcoords="offset points", ha="right", va="center", fontsize=7, annotation_clip=False,
            )  # fmt: skip
    for lon in lons:
        x, y = domain.ll_to_xy(dense_lat, np.full_like(dense_lat, lon))
        ax.plot(x / 1000.0, y / 1000.0, **style)  # type: ignore[attr-defined]
        inside = (x / 1000.0 > x0) & (x / 1000.0 < x1) & (np.abs(y / 1000.0 - y0) < 3.0)
        if inside.any():
            ax.annotate(  # type: ignore[attr-defined]
                f"{-lon:.1f}°W", (float(np.mean(x[inside])) / 1000.0, y0), xytext=(0, -3),
                textcoords="offset points", ha="center", va="top", fontsize=7, annotation_clip=False,
            )  # fmt: skip


def write_map(path: Path, oz: HourlyOzone, res: rules.Mda8Result, days: list[dt.date]) -> None:
    """PNG map of the highest MDA8 (valid days), exceedance cells outlined in black, with a latitude/
    longitude graticule, the model terrain's contours and the cities of the domain (on the reference
    projection), and a title naming the model, the days and the standard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # unhinted glyphs: the host's and the image's FreeType versions then draw text much more alike
    with plt.rc_context({"text.hinting": "none"}):
        _draw_map(plt, path, oz, res, days)


def _draw_map(plt: Any, path: Path, oz: HourlyOzone, res: rules.Mda8Result, days: list[dt.date]) -> None:
    import matplotlib
    from matplotlib.collections import LineCollection

    ny, nx = res.highest.shape
    g = oz.grid
    x_edges = (g["XORIG"] + np.arange(nx + 1) * g["XCELL"]) / 1000.0
    y_edges = (g["YORIG"] + np.arange(ny + 1) * g["YCELL"]) / 1000.0
    fig, ax = plt.subplots(figsize=(7.0, 6.4), dpi=100)
    data = np.ma.masked_invalid(res.highest)
    cmap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="0.8")
    finite = res.highest[np.isfinite(res.highest)]
    vmax = max(90.0, float(finite.max()) if finite.size else 90.0)
    mesh = ax.pcolormesh(x_edges, y_edges, data, cmap=cmap, vmin=30.0, vmax=vmax, shading="flat")
    fig.colorbar(mesh, ax=ax, label="highest MDA8 O3 (ppb)", shrink=0.85)
    pad = np.pad(res.exceedance_days > 0, 1)  # False outside the domain
    segments = []
    vj, vi = np.nonzero(pad[1:-1, :-1] != pad[1:-1, 1:])  # edge at x_edges[vi] between cells vi-1 and vi
    segments += [
        [(x_edges[i], y_edges[j]), (x_edges[i], y_edges[j + 1])] for j, i in zip(vj, vi, strict=True)
    ]
    hj, hi = np.nonzero(pad[:-1, 1:-1] != pad[1:, 1:-1])  # edge at y_edges[hj] between rows hj-1 and hj
    segments += [
        [(x_edges[i], y_edges[j]), (x_edges[i + 1], y_edges[j])] for j, i in zip(hj, hi, strict=True)
    ]
    if segments:
        ax.add_collection(LineCollection(segments, colors="black", linewidths=1.2, zorder=4))
    on_reference = _lat_lon(oz.grid, (ny, nx)) is not None
    if on_reference:
        if (ny, nx) == (domain.NROWS, domain.NCOLS):
            xc = 0.5 * (x_edges[1:] + x_edges[:-1])
            yc = 0.5 * (y_edges[1:] + y_edges[:-1])
            levels = np.arange(1000.0, 5000.0, TERRAIN_CONTOUR_M)
            contours = ax.contour(
                xc, yc, surface.terrain(), levels=levels, colors="0.35", linewidths=0.5, zorder=2
            )
            ax.clabel(contours, fmt="%.0f m", fontsize=6, inline=True)
        _graticule(ax, x_edges, y_edges)
        for name, lat, lon in PLACES:
            px, py = (float(v) / 1000.0 for v in domain.ll_to_xy(lat, lon))
            if x_edges[0] < px < x_edges[-1] and y_edges[0] < py < y_edges[-1]:
                ax.plot(px, py, marker="o", markersize=4, color="black", zorder=5)
                ax.annotate(name, (px, py), xytext=(4, 3), textcoords="offset points", fontsize=8, zorder=5)
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    first, last = days[0], days[-1]
    span = f"{first}" if first == last else f"{first} to {last}"
    n_exceed = int((res.exceedance_days > 0).sum())
    ax.set_title(
        f"{oz.model}: highest MDA8 ozone, {span} (LST days)\n"
        f"2015 ozone NAAQS, 70 ppb (40 CFR 50 App. U); outlined: {n_exceed} cells above it",
        fontsize=9,
    )
    if on_reference:  # the graticule's labels replace the projection's kilometre ticks
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(
            "Lambert conformal (true at 30 and 60 N, 105 W), 4 km cells; dotted: latitude/longitude,\n"
            "grey: model terrain (m); outlined: exceedance cells; grey cells: no valid day",
            fontsize=7,
            labelpad=14,
        )
    else:
        ax.set_xlabel("x (km, projection of the input files)", fontsize=8)
        ax.set_ylabel("y (km)", fontsize=8)
    ax.set_aspect("equal")
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}.png")
    try:
        fig.savefig(tmp, format="png", metadata={"Software": None})
        _replace_atomically(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


def report_text(
    oz: HourlyOzone, res: rules.Mda8Result, utc_offset_h: int, days: list[dt.date], lookahead: list[dt.date]
) -> str:
    ncell = res.highest.size
    lines = [
        "AQcast aq-compliance: MDA8 ozone and the 2015 ozone NAAQS (70 ppb), surface layer",
        f"model: {oz.model}",
        f"input: {len(oz.files)} file(s), {oz.n_hours_read} hourly fields: {', '.join(oz.files)}",
        f"local standard time = UTC{utc_offset_h:+d} h; days are LST days named by the UTC date of each file",
        "rules: 17 8-h windows starting 07-23 LST, >= 6 of 8 hours per window, averages truncated to 1 ppb,",
        "       day valid with >= 13 of 17 windows or MDA8 > 70 ppb; "
        "exceedance = MDA8 > 70 ppb on a valid day",
        "",
        "day         valid cells  max MDA8 (ppb)  at (row, col)  cells > 70 ppb",
    ]
    if lookahead:
        lines[6:6] = [
            f"look-ahead: {', '.join(str(d) for d in lookahead)} simulated, not reported: its 00-06 LST",
            "       hours complete the last reported day's evening windows (those starting 17-23 LST)",
        ]
    ny, nx = res.highest.shape
    latlon = _lat_lon(oz.grid, (ny, nx))
    for d, day in enumerate(days):
        valid = res.day_valid[d]
        vals = np.where(valid, res.mda8[d], -np.inf)
        if valid.any():
            j, i = np.unravel_index(int(np.argmax(vals)), vals.shape)
            top = f"{vals[j, i]:14.0f}  ({j:3d}, {i:3d})    "
        else:
            top = f"{'-':>14}  {'-':>10}    "
        above = int((valid & (res.mda8[d] > rules.STANDARD_PPB)).sum())
        lines.append(f"{day}  {int(valid.sum()):5d}/{ncell:<5d} {top} {above:8d}")
    lines.append("")
    n_exceed = int((res.exceedance_days > 0).sum())
    lines.append(f"cells with at least one exceedance day: {n_exceed} of {ncell}")
    if n_exceed:
        j, i = np.unravel_index(int(np.argmax(res.exceedance_days)), res.exceedance_days.shape)
        where = f" at (row {j}, col {i})"
        if latlon is not None:
            where += f", {latlon[0][j, i]:.3f} N {-latlon[1][j, i]:.3f} W"
        lines.append(f"most exceedance days in one cell: {int(res.exceedance_days[j, i])}{where}")
    finite = res.highest[np.isfinite(res.highest)]
    if finite.size:
        j, i = np.unravel_index(int(np.nanargmax(res.highest)), res.highest.shape)
        where = f"(row {j}, col {i})"
        if latlon is not None:
            where += f", {latlon[0][j, i]:.3f} N {-latlon[1][j, i]:.3f} W"
        lines.append(f"highest MDA8 over valid days: {finite.max():.0f} ppb at {where}")
    else:
        lines.append("highest MDA8 over valid days: none (no valid day in any cell)")
    fourth = res.fourth_highest[np.isfinite(res.fourth_highest)]
    if fourth.size:
        lines.append(
            f"4th-highest MDA8: max {fourth.max():.0f} ppb; "
            f"{int((fourth > rules.STANDARD_PPB).sum())} cells above 70 ppb"
        )
    else:
        lines.append(
            f"4th-highest MDA8: not available (needs >= 4 valid days; at most {int(res.valid_days.max())})"
        )
    lines.append(
        "note: a design value averages three years of 4th-highest MDA8; "
        "model days only indicate exceedance risk."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aq-compliance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input-dir", required=True, type=Path, help="directory of CONC *.nc files")
    parser.add_argument("--outdir", required=True, type=Path)
    parser.add_argument(
        "--utc-offset", type=int, default=domain.LOCAL_UTC_OFFSET_H, help="LST = UTC + this (h)"
    )
    parser.add_argument(
        "--lookahead-days",
        type=int,
        default=0,
        help="the last N days of files only complete the evening windows of the day before; not reported",
    )
    args = parser.parse_args(argv)
    try:
        if not -12 <= args.utc_offset <= 14:
            raise ComplianceInputError(f"--utc-offset {args.utc_offset} must be within -12..14 hours")
        if not args.outdir.is_dir():
            raise ComplianceInputError(f"{args.outdir}: the output directory does not exist")
        if not 0 <= args.lookahead_days <= 7:
            raise ComplianceInputError(f"--lookahead-days {args.lookahead_days} must be within 0..7")
        oz = read_directory(args.input_dir, args.utc_offset)
        if len(oz.days) <= args.lookahead_days:
            raise ComplianceInputError(
                f"{args.input_dir}: {len(oz.days)} day(s) of files, but the last {args.lookahead_days} are "
                "look-ahead days that are not reported; give at least one more day"
            )
        reported = oz.days[: len(oz.days) - args.lookahead_days]
        span_days = (oz.days[-1] - oz.days[0]).days + 1
        best, windows, valid = rules.daily(oz.hourly_lst, span_days)
        keep = [(d - oz.days[0]).days for d in reported]  # only the reported days that have a file
        res = rules.summarise(best[keep], windows[keep], valid[keep])
        write_netcdf(args.outdir / "mda8.nc", oz, res, args.utc_offset, reported)
        write_map(args.outdir / "mda8_max.png", oz, res, reported)
        text = report_text(oz, res, args.utc_offset, reported, oz.days[len(reported) :])
        (args.outdir / "report.txt").write_text(text)
        print(text, end="")
    except ComplianceInputError as exc:
        print(f"aq-compliance: error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
