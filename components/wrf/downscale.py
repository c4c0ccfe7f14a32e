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
import dataclasses
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
import vertical  # noqa: E402
import wrfout  # noqa: E402
from aqdomain import domain, surface  # noqa: E402

LAPSE_RATE = 0.0065  # K m-1, US Standard Atmosphere 1976 troposphere
GRAVITY = 9.81
R_DRY = 287.04
# The fine-minus-coarse terrain adjustment of the temperature profile fades linearly to 0 at this height
# above ground: the surfaces of the Gal-Chen & Somerville (1975) terrain-following coordinate flatten with
# height and are level at its top (here about the model top's height)
TERRAIN_FADE_M = 20_000.0
EARTH_ROTATION = 7.2921e-5  # s-1 (WRF's EOMEG)
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


def centre_gradient(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dhdy, dhdx = np.gradient(h, domain.DY, domain.DX)
    return dhdx, dhdy


def face_average(a: np.ndarray, axis: int) -> np.ndarray:
    """Values at the n + 1 faces along ``axis``: interior faces average, edge faces copy the edge cell."""
    first = np.take(a, [0], axis=axis)
    last = np.take(a, [-1], axis=axis)
    lo = np.take(a, np.arange(a.shape[axis] - 1), axis=axis)
    hi = np.take(a, np.arange(1, a.shape[axis]), axis=axis)
    return np.concatenate([first, 0.5 * (lo + hi), last], axis=axis)


@dataclass
class DayResult:
    data: dict[str, np.ndarray]
    times: list[dt.datetime]
    div_before: list[float]
    div_after: list[float]


def downscale_day(coarse: Coarse, day: dt.date, log: Callable[[str], None] = print) -> DayResult:
    g = domain.grid()
    gu, gv = domain.staggered_grid("x"), domain.staggered_grid("y")
    znw, znu = vertical.eta_levels()
    h = surface.terrain()
    z0 = surface.roughness_length()
    alb = surface.albedo()
    water = surface.landcover()["water"]
    hx, hy = centre_gradient(h)
    bil_m = Bilinear(coarse.lat, coarse.lon, g.lat, g.lon)
    bil_u = Bilinear(coarse.lat, coarse.lon, gu.lat, gu.lon)
    bil_v = Bilinear(coarse.lat, coarse.lon, gv.lat, gv.lon)
    hc = bil_m(coarse.fields["HGT"])
    dh = h - hc
    at = time_interpolator(coarse, clamp=False)
    at_clamped = time_interpolator(coarse, clamp=True)
    alpha_rot = domain.rotation_angle(g.lon)
    base = vertical.base_state(h)
    mapfac_m, mapfac_u, mapfac_v = (domain.map_factor(x.lat) for x in (g, gu, gv))
    lat_r = np.radians(g.lat)

    times = domain.hours_of_day(day)
    nt = len(times)
    out: dict[str, np.ndarray] = {}

    def put(name: str, t: int, value: np.ndarray | float) -> None:
        if name not in out:
            out[name] = np.zeros((nt, *np.shape(value)), dtype=np.float32)
        out[name][t] = value

    def cloud_at(when: dt.datetime) -> np.ndarray:
        return bil_m(at_clamped(when, "CLDFRA"))

    # --- surface state of every hour, terrain-adjusted
    t2c = np.stack([bil_m(at(when, "T2")) for when in times])
    t2_all = t2c - LAPSE_RATE * dh
    psfc_c = np.stack([bil_m(at(when, "PSFC")) for when in times])
    psfc_all = psfc_c * np.exp(-GRAVITY * dh / (R_DRY * 0.5 * (t2_all + t2c)))
    q2c = np.stack([bil_m(at(when, "Q2")) for when in times])
    rh = np.clip(q2c / vertical.saturation_mixing_ratio(t2c, psfc_c), 0.0, 1.0)
    q2_all = rh * vertical.saturation_mixing_ratio(t2_all, psfc_all)
    cloud_all = np.stack([bil_m(at(when, "CLDFRA")) for when in times])
    # --- the hydrostatic columns on WRF's eta levels (all hours at once), temperature from the coarse
    # profile with the terrain adjustment fading with height
    profile = vertical.ProfileInterpolator(
        coarse.level, np.stack([bil_m(at(when, "T")) for when in times], axis=1)
    )

    def temperature_at(z: np.ndarray) -> np.ndarray:
        fade = np.clip(1.0 - z / TERRAIN_FADE_M, 0.0, 1.0)
        return profile.at(z) - LAPSE_RATE * dh * fade

    columns = vertical.integrate_column(psfc_all, t2_all, q2_all, cloud_all, temperature_at)
    if float(columns.z_half.max()) > float(coarse.level[-1]):
        raise InputProblem(
            f"the coarse levels reach {coarse.level[-1]:.0f} m above ground, but the model column "
            f"(top {vertical.P_TOP:.0f} Pa) reaches {float(columns.z_full.max()):.0f} m; give a coarse "
            "file whose levels cover the whole column"
        )

    heat_integral = bl.HeatIntegral(g.lat, g.lon, alb, cloud_at, domain.LOCAL_UTC_OFFSET_H)
    div_before: list[float] = []
    div_after: list[float] = []
    for t, when in enumerate(times):
        t2, psfc, q2, cloud = t2_all[t], psfc_all[t], q2_all[t], cloud_all[t]
        col = vertical.Column(*(getattr(columns, f.name)[:, t] for f in dataclasses.fields(columns)))
        # --- radiation and fluxes (the stability of the hour chooses the adjustment weights)
        sw = bl.swdown(when, g.lat, g.lon, cloud)
        hfx = bl.sensible_heat_flux(sw, alb)
        alpha = ALPHA_UNSTABLE if float(hfx.mean()) > 0.0 else ALPHA_STABLE
        # --- first-guess winds on the C grid at each column's level heights, grid-relative
        ue, ve = bil_u(at(when, "U")), bil_u(at(when, "V"))
        u_prof = vertical.ProfileInterpolator(coarse.level, domain.earth_to_grid(ue, ve, gu.lon)[0])
        u0 = u_prof.at(face_average(col.z_half, 2))
        ue, ve = bil_v(at(when, "U")), bil_v(at(when, "V"))
        v_prof = vertical.ProfileInterpolator(coarse.level, domain.earth_to_grid(ue, ve, gv.lon)[1])
        v0 = v_prof.at(face_average(col.z_half, 1))
        uc = 0.5 * (u0[:, :, 1:] + u0[:, :, :-1])
        vc = 0.5 * (v0[:, 1:, :] + v0[:, :-1, :])
        # physical w0 = 0: the contravariant velocity of the first guess is -V.grad(h) on the z faces
        uf = np.concatenate([uc[:1], 0.5 * (uc[1:] + uc[:-1]), uc[-1:]])
        vf = np.concatenate([vc[:1], 0.5 * (vc[1:] + vc[:-1]), vc[-1:]])
        omega0 = -(uf * hx[None] + vf * hy[None])
        # the adjustment's grid: each layer's thickness averaged over the domain (it varies by < 10 %)
        dz = np.diff(col.z_full, axis=0).mean(axis=(1, 2))
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
        # --- 10 m wind from the lowest level by the log law; friction velocity; PBL height
        z1 = col.z_half[0]
        log_ratio = np.log(10.0 / z0) / np.log(z1 / z0)
        u10, v10 = uca[0] * log_ratio, vca[0] * log_ratio
        ust = bl.friction_velocity(np.hypot(uca[0], vca[0]), z1, z0)
        rho = psfc / (R_DRY * t2)
        h_stable = bl.stable_height(ust, hfx, t2, rho, g.lat)
        if float(hfx.max()) > 0.0:
            integral = heat_integral.at(when) / (rho * bl.CP_DRY)
            pblh = np.where(hfx > 0.0, bl.convective_height(integral), h_stable)
        else:
            pblh = h_stable
        theta = vertical.potential_temperature(col.temp, col.p_half)
        mu_total = psfc - vertical.P_TOP

        for name, value in (
            ("XLAT", g.lat), ("XLONG", g.lon), ("XLAT_U", gu.lat), ("XLONG_U", gu.lon),
            ("XLAT_V", gv.lat), ("XLONG_V", gv.lon), ("HGT", h), ("LANDMASK", (water < 0.5).astype(float)),
            ("XLAND", np.where(water < 0.5, 1.0, 2.0)),
            ("COSALPHA", np.cos(alpha_rot)), ("SINALPHA", np.sin(alpha_rot)),
            ("MAPFAC_M", mapfac_m), ("MAPFAC_U", mapfac_u), ("MAPFAC_V", mapfac_v),
            ("MAPFAC_MX", mapfac_m), ("MAPFAC_MY", mapfac_m), ("MAPFAC_UX", mapfac_u),
            ("MAPFAC_UY", mapfac_u), ("MAPFAC_VX", mapfac_v), ("MAPFAC_VY", mapfac_v),
            ("F", 2.0 * EARTH_ROTATION * np.sin(lat_r)), ("E", 2.0 * EARTH_ROTATION * np.cos(lat_r)),
            ("U", ua), ("V", va), ("W", w),
            ("PH", vertical.GRAVITY * (h[None] + col.z_full) - base.phb), ("PHB", base.phb),
            ("T", theta - vertical.T0), ("P", col.p_half - base.pb), ("PB", base.pb),
            ("MU", mu_total - base.mub), ("MUB", base.mub),
            ("QVAPOR", col.qv), ("QCLOUD", col.qc), ("QICE", col.qi),
            ("ZNU", znu), ("ZNW", znw), ("DNW", np.diff(znw)), ("RDNW", 1.0 / np.diff(znw)),
            ("P_TOP", vertical.P_TOP), ("P00", vertical.P00), ("T00", vertical.T00),
            ("TLP", vertical.TLP), ("TISO", vertical.TISO),
            ("RDX", 1.0 / domain.DX), ("RDY", 1.0 / domain.DY),
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
