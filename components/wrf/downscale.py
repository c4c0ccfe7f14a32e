"""wrf reference component: downscale a coarse large-scale day onto the reference grid, hourly.

    python3 downscale.py --date 2024-07-15 --coarse /data/input/coarse.nc --out /data/output/wrfout_d01.nc

Steps for each of the 24 UTC hours of --date:
 1. linear interpolation in time between the coarse (e.g. 3-hourly) fields, bilinear in latitude/longitude
    onto cell centres and onto the staggered U/V points, linear in height above ground onto the layers;
 2. temperature adjusted to the fine terrain with the 6.5 K/km standard-atmosphere lapse rate,
    surface pressure hydrostatically, humidity at constant relative humidity;
 3. the mass-consistent wind adjustment over the fine terrain (massconsistent.py), whose remaining
    divergence is reported on stdout;
 4. SWDOWN from the NOAA solar position, surface fluxes and the diurnal PBL height (boundary_layer.py);
 5. pressure and geopotential on the layers (hydrostatic), potential temperature;
and writes one wrfout-convention file (wrfout.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

HERE = Path(__file__).resolve().parent
# in the image aqdomain is on PYTHONPATH (/app/libs); on the host it is in the repository's libs/
for _libs in (HERE / "libs", *(p / "libs" for p in HERE.parents[1:2])):
    if (_libs / "aqdomain").is_dir() and str(_libs) not in sys.path:
        sys.path.insert(0, str(_libs))

import boundary_layer as bl  # noqa: E402
import massconsistent  # noqa: E402
import wrfout  # noqa: E402
from aqdomain import domain, surface  # noqa: E402

LAPSE_RATE = 0.0065  # K m-1, US Standard Atmosphere 1976 troposphere
GRAVITY = 9.81
R_DRY = 287.04
CP_DRY = 1004.5
P0 = 100_000.0
ALPHA_UNSTABLE = 1.0  # a1/a2 by day: flow goes over the terrain as readily as around it
ALPHA_STABLE = 0.3  # a1/a2 at night: vertical displacement is costly, flow goes around
REQUIRED = ("HGT", "T2", "Q2", "PSFC", "CLDFRA", "U", "V", "T")


class InputProblem(Exception):
    """A problem with the coarse input file; the message says what to fix."""


@dataclass
class Coarse:
    times: list[dt.datetime]
    lat: np.ndarray
    lon: np.ndarray
    level: np.ndarray
    fields: dict[str, np.ndarray]


def read_coarse(path: Path) -> Coarse:
    if not path.is_file():
        raise InputProblem(f"{path}: the coarse input file does not exist (input 'coarse')")
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise InputProblem(f"{path}: not a readable netCDF file ({exc})") from exc
    with ds:
        missing = [v for v in (*REQUIRED, "time", "lat", "lon", "level") if v not in ds.variables]
        if missing:
            raise InputProblem(
                f"{path}: variables {', '.join(missing)} are missing; the coarse file needs "
                "time, level, lat, lon, HGT, T2, Q2, PSFC, CLDFRA, U, V, T (see synoptic.py)"
            )
        units = str(getattr(ds.variables["time"], "units", ""))
        m = re.fullmatch(r"\s*hours since (\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})\s*", units)
        if not m:
            raise InputProblem(f"{path}: time:units is {units!r}; expected 'hours since YYYY-MM-DD HH:MM:SS'")
        ref = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}:{m.group(3)}:{m.group(4)}")
        hours = np.asarray(ds.variables["time"][:], dtype=np.float64)
        times = [ref + dt.timedelta(hours=float(h)) for h in hours]
        lat = np.asarray(ds.variables["lat"][:], dtype=np.float64)
        lon = np.asarray(ds.variables["lon"][:], dtype=np.float64)
        level = np.asarray(ds.variables["level"][:], dtype=np.float64)
        for name, axis in (("lat", lat), ("lon", lon), ("level", level), ("time", hours)):
            if axis.size < 2 or np.any(np.diff(axis) <= 0):
                raise InputProblem(f"{path}: coordinate {name} must be strictly increasing with >= 2 values")
        fields = {v: np.asarray(ds.variables[v][:], dtype=np.float64) for v in REQUIRED}
    g = domain.grid()
    if g.lat.min() < lat[0] or g.lat.max() > lat[-1] or g.lon.min() < lon[0] or g.lon.max() > lon[-1]:
        raise InputProblem(
            f"{path}: the coarse grid (lat {lat[0]}..{lat[-1]}, lon {lon[0]}..{lon[-1]}) does not cover the "
            f"reference domain (lat {g.lat.min():.2f}..{g.lat.max():.2f}, "
            f"lon {g.lon.min():.2f}..{g.lon.max():.2f})"
        )
    return Coarse(times=times, lat=lat, lon=lon, level=level, fields=fields)


class Bilinear:
    """Bilinear interpolation weights from a regular-or-not lat/lon grid to fixed target points."""

    def __init__(self, lat_axis: np.ndarray, lon_axis: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> None:
        self.i = np.clip(np.searchsorted(lat_axis, lat) - 1, 0, len(lat_axis) - 2)
        self.j = np.clip(np.searchsorted(lon_axis, lon) - 1, 0, len(lon_axis) - 2)
        self.wy = (lat - lat_axis[self.i]) / (lat_axis[self.i + 1] - lat_axis[self.i])
        self.wx = (lon - lon_axis[self.j]) / (lon_axis[self.j + 1] - lon_axis[self.j])

    def __call__(self, field: np.ndarray) -> np.ndarray:
        """field (..., nlat, nlon) -> (..., *target shape)."""
        i, j, wy, wx = self.i, self.j, self.wy, self.wx
        return (
            (1 - wy) * (1 - wx) * field[..., i, j]
            + (1 - wy) * wx * field[..., i, j + 1]
            + wy * (1 - wx) * field[..., i + 1, j]
            + wy * wx * field[..., i + 1, j + 1]
        )


def vertical_weights(levels: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index and weight for linear interpolation in height (constant beyond the end levels)."""
    zc = np.clip(z, levels[0], levels[-1])
    k = np.clip(np.searchsorted(levels, zc) - 1, 0, len(levels) - 2)
    w = (zc - levels[k]) / (levels[k + 1] - levels[k])
    return k, w


def to_layers(field: np.ndarray, k: np.ndarray, w: np.ndarray) -> np.ndarray:
    """field (nlev, ...) -> (nlayers, ...)."""
    return (1 - w)[:, None, None] * field[k] + w[:, None, None] * field[k + 1]


def time_interpolator(coarse: Coarse, clamp: bool) -> Callable[[dt.datetime, str], np.ndarray]:
    secs = np.array([(t - coarse.times[0]).total_seconds() for t in coarse.times])

    def at(when: dt.datetime, name: str) -> np.ndarray:
        s = (when - coarse.times[0]).total_seconds()
        if not clamp and not (secs[0] <= s <= secs[-1]):
            raise InputProblem(
                f"coarse input covers {coarse.times[0]:%Y-%m-%d %H:%M} .. "
                f"{coarse.times[-1]:%Y-%m-%d %H:%M} UTC "
                f"but {when:%Y-%m-%d %H:%M} is needed; give a coarse file for the --date day"
            )
        s = min(max(s, secs[0]), secs[-1])
        n = min(int(np.searchsorted(secs, s, side="right")) - 1, len(secs) - 2)
        w = (s - secs[n]) / (secs[n + 1] - secs[n])
        arr = coarse.fields[name]
        return np.asarray((1 - w) * arr[n] + w * arr[n + 1])

    return at


def saturation_mixing_ratio(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    es = 611.2 * np.exp(17.67 * (t - 273.15) / (t - 29.65))  # Bolton (1980), Pa
    return 0.622 * es / (p - 0.378 * es)


def standard_pressure(z_asl: np.ndarray) -> np.ndarray:
    """US Standard Atmosphere 1976 pressure (Pa) below 11 km: the WRF-like base state."""
    return np.asarray(101_325.0 * (1.0 - LAPSE_RATE * z_asl / 288.15) ** 5.25588)


def centre_gradient(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dhdy, dhdx = np.gradient(h, domain.DY, domain.DX)
    return dhdx, dhdy


@dataclass
class DayResult:
    data: dict[str, np.ndarray]
    times: list[dt.datetime]
    div_before: list[float]
    div_after: list[float]


def downscale_day(coarse: Coarse, day: dt.date, log: Callable[[str], None] = print) -> DayResult:
    g = domain.grid()
    gu, gv = domain.staggered_grid("x"), domain.staggered_grid("y")
    nz, ny, nx = domain.NLAYS, domain.NROWS, domain.NCOLS
    zf, zm, dz = domain.layer_interfaces(), domain.layer_midpoints(), domain.layer_thickness()
    h = surface.terrain()
    z0 = surface.roughness_length()
    alb = surface.albedo()
    water = surface.landcover()["water"]
    hx, hy = centre_gradient(h)
    # the terrain slope on the z faces of each column (the same for all faces of a column)
    bil_m = Bilinear(coarse.lat, coarse.lon, g.lat, g.lon)
    bil_u = Bilinear(coarse.lat, coarse.lon, gu.lat, gu.lon)
    bil_v = Bilinear(coarse.lat, coarse.lon, gv.lat, gv.lon)
    kz, wz = vertical_weights(coarse.level, zm)
    hc = bil_m(coarse.fields["HGT"])
    dh = h - hc
    at = time_interpolator(coarse, clamp=False)
    at_clamped = time_interpolator(coarse, clamp=True)
    alpha_rot = domain.rotation_angle(g.lon)

    times = domain.hours_of_day(day)
    nt = len(times)
    out: dict[str, np.ndarray] = {}

    def put(name: str, t: int, value: np.ndarray) -> None:
        if name not in out:
            out[name] = np.zeros((nt, *np.shape(value)), dtype=np.float32)
        out[name][t] = value

    # base state (time-invariant): standard-atmosphere pressure and geopotential on the layers
    z_asl_mid = h[None] + zm[:, None, None]
    z_asl_face = h[None] + zf[:, None, None]
    pb = standard_pressure(z_asl_mid)
    phb = GRAVITY * z_asl_face
    mean_h = float(h.mean())
    p_face_nom = standard_pressure(mean_h + zf)
    znw = (p_face_nom - p_face_nom[-1]) / (p_face_nom[0] - p_face_nom[-1])
    p_mid_nom = standard_pressure(mean_h + zm)
    znu = (p_mid_nom - p_face_nom[-1]) / (p_face_nom[0] - p_face_nom[-1])

    def cloud_at(when: dt.datetime) -> np.ndarray:
        return bil_m(at_clamped(when, "CLDFRA"))

    heat_integral = bl.HeatIntegral(g.lat, g.lon, alb, cloud_at, domain.LOCAL_UTC_OFFSET_H)
    div_before: list[float] = []
    div_after: list[float] = []
    for t, when in enumerate(times):
        # --- surface state, terrain-adjusted
        t2c = bil_m(at(when, "T2"))
        t2 = t2c - LAPSE_RATE * dh
        psfc_c = bil_m(at(when, "PSFC"))
        psfc = psfc_c * np.exp(-GRAVITY * dh / (R_DRY * 0.5 * (t2 + t2c)))
        q2c = bil_m(at(when, "Q2"))
        rh = np.clip(q2c / saturation_mixing_ratio(t2c, psfc_c), 0.0, 1.0)
        q2 = rh * saturation_mixing_ratio(t2, psfc)
        cloud = bil_m(at(when, "CLDFRA"))
        # --- layer temperature and humidity
        temp = to_layers(bil_m(at(when, "T")), kz, wz) - LAPSE_RATE * dh[None]
        qv = np.minimum(q2[None] * np.exp(-zm[:, None, None] / 2500.0), saturation_mixing_ratio(temp, pb))
        # --- radiation and fluxes (the stability of the hour chooses the adjustment weights)
        sw = bl.swdown(when, g.lat, g.lon, cloud)
        hfx = bl.sensible_heat_flux(sw, alb)
        alpha = ALPHA_UNSTABLE if float(hfx.mean()) > 0.0 else ALPHA_STABLE
        # --- first-guess winds on the C grid, rotated to grid-relative components
        ue, ve = bil_u(at(when, "U")), bil_u(at(when, "V"))
        u0 = to_layers(domain.earth_to_grid(ue, ve, gu.lon)[0], kz, wz)
        ue, ve = bil_v(at(when, "U")), bil_v(at(when, "V"))
        v0 = to_layers(domain.earth_to_grid(ue, ve, gv.lon)[1], kz, wz)
        uc = 0.5 * (u0[:, :, 1:] + u0[:, :, :-1])
        vc = 0.5 * (v0[:, 1:, :] + v0[:, :-1, :])
        # physical w0 = 0: the contravariant velocity of the first guess is -V.grad(h) on the z faces
        uf = np.concatenate([uc[:1], 0.5 * (uc[1:] + uc[:-1]), uc[-1:]])
        vf = np.concatenate([vc[:1], 0.5 * (vc[1:] + vc[:-1]), vc[-1:]])
        omega0 = -(uf * hx[None] + vf * hy[None])
        adj = massconsistent.adjust(u0, v0, omega0, domain.DX, domain.DY, dz, alpha)
        div_before.append(adj.max_div_before)
        div_after.append(adj.max_div_after)
        log(
            f"{when:%Y-%m-%d_%H:%M:%S}  alpha {alpha:.1f}  max|div| before {adj.max_div_before:.3e} s-1"
            f"  after {adj.max_div_after:.3e} s-1"
        )
        ua, va = adj.u, adj.v
        uca = 0.5 * (ua[:, :, 1:] + ua[:, :, :-1])
        vca = 0.5 * (va[:, 1:, :] + va[:, :-1, :])
        ufa = np.concatenate([uca[:1], 0.5 * (uca[1:] + uca[:-1]), uca[-1:]])
        vfa = np.concatenate([vca[:1], 0.5 * (vca[1:] + vca[:-1]), vca[-1:]])
        w = adj.omega + ufa * hx[None] + vfa * hy[None]
        # --- 10 m wind from the lowest layer by the log law; friction velocity; PBL height
        log_ratio = np.log(10.0 / z0) / np.log(zm[0] / z0)
        u10, v10 = uca[0] * log_ratio, vca[0] * log_ratio
        ust = bl.friction_velocity(np.hypot(uca[0], vca[0]), float(zm[0]), z0)
        rho = psfc / (R_DRY * t2)
        h_stable = bl.stable_height(ust, hfx, t2, rho, g.lat)
        if float(hfx.max()) > 0.0:
            integral = heat_integral.at(when) / (rho * bl.CP_DRY)
            pblh = np.where(hfx > 0.0, bl.convective_height(integral), h_stable)
        else:
            pblh = h_stable
        # --- hydrostatic pressure on the layers from the surface up
        tv = temp * (1.0 + 0.608 * qv)
        p_face = np.empty((nz + 1, ny, nx))
        p_face[0] = psfc
        for k in range(nz):
            p_face[k + 1] = p_face[k] * np.exp(-GRAVITY * dz[k] / (R_DRY * tv[k]))
        p_mid = p_face[:-1] * np.exp(-GRAVITY * 0.5 * dz[:, None, None] / (R_DRY * tv))
        theta = temp * (P0 / p_mid) ** (R_DRY / CP_DRY)

        for name, value in (
            ("XLAT", g.lat), ("XLONG", g.lon), ("XLAT_U", gu.lat), ("XLONG_U", gu.lon),
            ("XLAT_V", gv.lat), ("XLONG_V", gv.lon), ("HGT", h), ("LANDMASK", (water < 0.5).astype(float)),
            ("COSALPHA", np.cos(alpha_rot)), ("SINALPHA", np.sin(alpha_rot)),
            ("U", ua), ("V", va), ("W", w), ("PH", np.zeros_like(phb)), ("PHB", phb),
            ("T", theta - 300.0), ("P", p_mid - pb), ("PB", pb), ("QVAPOR", qv), ("ZNU", znu), ("ZNW", znw),
            ("Q2", q2), ("T2", t2), ("PSFC", psfc), ("U10", u10), ("V10", v10), ("SWDOWN", sw),
            ("HFX", hfx), ("UST", ust), ("PBLH", pblh),
        ):  # fmt: skip
            put(name, t, value)
    return DayResult(data=out, times=times, div_before=div_before, div_after=div_after)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Downscale one day of coarse fields to a wrfout file.")
    ap.add_argument("--date", required=True, help="UTC day, YYYY-MM-DD")
    ap.add_argument("--coarse", type=Path, required=True, help="coarse large-scale fields (netCDF)")
    ap.add_argument("--out", type=Path, required=True, help="wrfout file to write")
    args = ap.parse_args(argv)
    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"wrf: --date {args.date!r} is not a date; use YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        coarse = read_coarse(args.coarse)
        result = downscale_day(coarse, day)
    except InputProblem as exc:
        print(f"wrf: {exc}", file=sys.stderr)
        return 3
    if not args.out.parent.is_dir():
        print(f"wrf: output directory {args.out.parent} does not exist", file=sys.stderr)
        return 2
    start = dt.datetime(day.year, day.month, day.day)
    wrfout.write_wrfout(args.out, start, result.times, result.data)
    before, after = max(result.div_before), max(result.div_after)
    print(
        f"mass-consistent adjustment: max|div| over the day before {before:.3e} s-1, after {after:.3e} s-1 "
        f"(reduced {before / max(after, 1e-300):.1e}-fold)"
    )
    print(f"wrote {args.out} ({len(result.times)} hourly steps from {start:%Y-%m-%d_%H:%M:%S})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
