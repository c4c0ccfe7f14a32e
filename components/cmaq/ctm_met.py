"""Meteorology for the chemical transport model: read a wrfout file and derive hourly transport fields.

From the wrfout convention: U/V (staggered, grid-relative), T (potential temperature - 300 K), P + PB
(pressure), PH + PHB (geopotential, only when WRF's levels differ from the model layers), PBLH, U10/V10,
T2, PSFC, SWDOWN, XLAT/XLONG, and UST/HFX when present. Each model hour [h, h + 1) uses the mean of the
wrfout steps h and h + 1 (step h alone for the last hour when the file holds 24 steps).

Derived: air molar density p / (R T); face mass fluxes rho u dy dz (mol/s); the vertical mass flux from
continuity; friction velocity u* (UST, else kappa |U10| / ln(10 m / z0)); convective velocity
w* = (g / T2 H / (rho cp) PBLH)^(1/3) with H = HFX when present, else 0.3 SWDOWN (a dry-land Bowen-ratio
proxy, documented in the README); the K profile of :func:`ctm_transport.eddy_diffusivity`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
from ctm_transport import VON_KARMAN, continuity_vertical_flux, eddy_diffusivity

R_GAS = 8.314462618  # J mol-1 K-1
R_DRY = 287.04  # J kg-1 K-1
CP_DRY = 1004.6  # J kg-1 K-1
GRAVITY = 9.81  # m s-2
P0 = 1.0e5  # Pa, reference pressure of potential temperature
KAPPA_AIR = R_DRY / CP_DRY
SENSIBLE_FRACTION_OF_SWDOWN = 0.3


class MetInputError(Exception):
    """The wrfout file is missing, unreadable or does not cover the day on the model grid."""


@dataclass
class MetDay:
    """Hourly meteorology of one UTC day on the model grid (nt = 24 or 25 steps from 00:00)."""

    u: np.ndarray  # (nt, nz, ny, nx + 1) m/s, grid-relative, x faces
    v: np.ndarray  # (nt, nz, ny + 1, nx) m/s, y faces
    temp: np.ndarray  # (nt, nz, ny, nx) K
    pres: np.ndarray  # (nt, nz, ny, nx) Pa
    pblh: np.ndarray  # (nt, ny, nx) m
    ustar: np.ndarray  # (nt, ny, nx) m/s
    wstar: np.ndarray  # (nt, ny, nx) m/s
    swdown: np.ndarray  # (nt, ny, nx) W/m2
    lat: np.ndarray  # (ny, nx) degrees
    lon: np.ndarray  # (ny, nx) degrees
    z_interfaces: np.ndarray  # (nz + 1,) m above ground
    dx: float
    dy: float


@dataclass
class HourMet:
    """Transport fields held constant over one model hour."""

    m: np.ndarray  # air moles per cell (nz, ny, nx)
    rho: np.ndarray  # mol/m3 (nz, ny, nx)
    fx: np.ndarray  # mol/s (nz, ny, nx + 1)
    fy: np.ndarray  # mol/s (nz, ny + 1, nx)
    fz: np.ndarray  # mol/s (nz + 1, ny, nx)
    temp: np.ndarray  # K (nz, ny, nx)
    kz: np.ndarray  # m2/s at internal interfaces (nz - 1, ny, nx)
    swdown: np.ndarray  # W/m2 (ny, nx)


def _face_average(a: np.ndarray, axis: int) -> np.ndarray:
    """Values at the n + 1 faces along ``axis``: interior faces average, edge faces copy the edge cell."""
    first = np.take(a, [0], axis=axis)
    last = np.take(a, [-1], axis=axis)
    lo = np.take(a, np.arange(a.shape[axis] - 1), axis=axis)
    hi = np.take(a, np.arange(1, a.shape[axis]), axis=axis)
    return np.concatenate([first, 0.5 * (lo + hi), last], axis=axis)


def hour_met(met: MetDay, hour: int, *, periodic: bool = False) -> HourMet:
    """Transport fields for hour [hour, hour + 1) (0-based), the mean of wrfout steps hour and hour + 1."""
    nt = met.u.shape[0]
    nxt = min(hour + 1, nt - 1)

    def mean(a: np.ndarray) -> np.ndarray:
        return 0.5 * (a[hour] + a[nxt])

    temp = mean(met.temp)
    pres = mean(met.pres)
    u = mean(met.u)
    v = mean(met.v)
    rho = pres / (R_GAS * temp)
    dz = np.diff(met.z_interfaces)[:, None, None]
    if periodic:
        # one density per layer keeps the wrapped faces consistent on the periodic test domain
        rx = np.concatenate(
            [0.5 * (rho[..., -1:] + rho[..., :1]), 0.5 * (rho[..., :-1] + rho[..., 1:])], axis=-1
        )
        rx = np.concatenate([rx, rx[..., :1]], axis=-1)
        ry = np.concatenate([0.5 * (rho[:, -1:] + rho[:, :1]), 0.5 * (rho[:, :-1] + rho[:, 1:])], axis=1)
        ry = np.concatenate([ry, ry[:, :1]], axis=1)
        u = np.concatenate([u[..., :-1], u[..., :1]], axis=-1)
        v = np.concatenate([v[:, :-1], v[:, :1]], axis=1)
    else:
        rx = _face_average(rho, 2)
        ry = _face_average(rho, 1)
    fx = rx * u * met.dy * dz
    fy = ry * v * met.dx * dz
    fz = continuity_vertical_flux(fx, fy)
    m = rho * met.dx * met.dy * dz
    kz = eddy_diffusivity(met.z_interfaces, mean(met.pblh), mean(met.ustar), mean(met.wstar))
    return HourMet(m=m, rho=rho, fx=fx, fy=fy, fz=fz, temp=temp, kz=kz, swdown=mean(met.swdown))


def _var(ds: netCDF4.Dataset, name: str, path: Path) -> np.ndarray:
    if name not in ds.variables:
        raise MetInputError(
            f"{path}: variable {name} is missing; cmaq needs a wrfout-convention file with "
            "U, V, T, P, PB, PBLH, U10, V10, T2, PSFC, SWDOWN, XLAT, XLONG, Times"
        )
    return np.asarray(ds.variables[name][:], dtype=np.float64)


def _times(ds: netCDF4.Dataset, path: Path) -> list[dt.datetime]:
    if "Times" not in ds.variables:
        raise MetInputError(
            f"{path}: variable Times is missing (wrfout convention: char Times(Time, DateStrLen))"
        )
    raw = np.asarray(ds.variables["Times"][:])
    out = []
    for row in raw:
        text = b"".join(bytes(c) for c in row).decode("ascii", "replace").strip("\x00 ")
        try:
            out.append(dt.datetime.strptime(text, "%Y-%m-%d_%H:%M:%S"))
        except ValueError as exc:
            raise MetInputError(f"{path}: Times entry {text!r} is not YYYY-MM-DD_HH:MM:SS") from exc
    return out


def read_wrfout(path: Path, day: dt.date, z_interfaces: np.ndarray, roughness: np.ndarray | float) -> MetDay:
    """Read one UTC day (24 or 25 hourly steps starting at 00:00) of wrfout meteorology."""
    if not path.is_file():
        raise MetInputError(f"{path}: the wrfout file does not exist; pass the wrf output with --wrfout")
    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise MetInputError(f"{path}: not a readable netCDF file ({exc})") from exc
    with ds:
        times = _times(ds, path)
        start = dt.datetime(day.year, day.month, day.day)
        if start not in times:
            raise MetInputError(
                f"{path}: Times does not contain {start:%Y-%m-%d_%H:%M:%S}; run wrf for --date {day}"
            )
        i0 = times.index(start)
        expected = [start + dt.timedelta(hours=h) for h in range(25)]
        nt = 25 if times[i0 : i0 + 25] == expected else 24
        if times[i0 : i0 + nt] != expected[:nt]:
            raise MetInputError(
                f"{path}: needs 24 hourly steps from {start:%Y-%m-%d_%H:%M:%S}, found {len(times)}"
            )
        sel = slice(i0, i0 + nt)
        u = _var(ds, "U", path)[sel]
        v = _var(ds, "V", path)[sel]
        theta = _var(ds, "T", path)[sel] + 300.0
        pres = _var(ds, "P", path)[sel] + _var(ds, "PB", path)[sel]
        pblh = _var(ds, "PBLH", path)[sel]
        u10 = _var(ds, "U10", path)[sel]
        v10 = _var(ds, "V10", path)[sel]
        t2 = _var(ds, "T2", path)[sel]
        psfc = _var(ds, "PSFC", path)[sel]
        swdown = _var(ds, "SWDOWN", path)[sel]
        lat = _var(ds, "XLAT", path)[i0]
        lon = _var(ds, "XLONG", path)[i0]
        ust = _var(ds, "UST", path)[sel] if "UST" in ds.variables else None
        hfx = _var(ds, "HFX", path)[sel] if "HFX" in ds.variables else None
        nz_wrf = theta.shape[1]
        nz = len(z_interfaces) - 1
        if nz_wrf != nz:
            zf = (_var(ds, "PH", path)[sel] + _var(ds, "PHB", path)[sel]) / GRAVITY
            z_mid_wrf = 0.5 * (zf[:, 1:] + zf[:, :-1]) - zf[:, :1]
            z_mid = 0.5 * (z_interfaces[1:] + z_interfaces[:-1])
            theta, pres = (_to_layers(a, z_mid_wrf, z_mid) for a in (theta, pres))
            zu = _face_average(z_mid_wrf, 3)
            zv = _face_average(z_mid_wrf, 2)
            u = _to_layers(u, zu, z_mid)
            v = _to_layers(v, zv, z_mid)
        dx = float(ds.getncattr("DX")) if "DX" in ds.ncattrs() else 4000.0
        dy = float(ds.getncattr("DY")) if "DY" in ds.ncattrs() else 4000.0
    temp = theta * (pres / P0) ** KAPPA_AIR
    wind10 = np.maximum(np.hypot(u10, v10), 0.5)
    ustar = ust if ust is not None else VON_KARMAN * wind10 / np.log(10.0 / np.asarray(roughness))
    heat = hfx if hfx is not None else SENSIBLE_FRACTION_OF_SWDOWN * swdown
    rho_air = psfc / (R_DRY * t2)
    buoyancy = GRAVITY / t2 * np.maximum(heat, 0.0) / (rho_air * CP_DRY) * pblh
    wstar = np.cbrt(np.maximum(buoyancy, 0.0))
    return MetDay(
        u=u,
        v=v,
        temp=temp,
        pres=pres,
        pblh=pblh,
        ustar=np.maximum(ustar, 0.01),
        wstar=wstar,
        swdown=np.maximum(swdown, 0.0),
        lat=lat,
        lon=lon,
        z_interfaces=np.asarray(z_interfaces, dtype=np.float64),
        dx=dx,
        dy=dy,
    )


def _to_layers(a: np.ndarray, z_src: np.ndarray, z_dst: np.ndarray) -> np.ndarray:
    """Linear interpolation in height, column by column (a, z_src: (nt, nz_src, ...); z_dst: (nz,))."""
    nt, _, *horiz = a.shape
    out = np.empty((nt, len(z_dst), *horiz))
    zs = np.broadcast_to(z_src, a.shape)
    for k, zk in enumerate(z_dst):
        above = np.clip((zs < zk).sum(axis=1), 1, a.shape[1] - 1)
        lo = np.take_along_axis(a, (above - 1)[:, None], axis=1)[:, 0]
        hi = np.take_along_axis(a, above[:, None], axis=1)[:, 0]
        zlo = np.take_along_axis(zs, (above - 1)[:, None], axis=1)[:, 0]
        zhi = np.take_along_axis(zs, above[:, None], axis=1)[:, 0]
        w = np.clip((zk - zlo) / np.where(zhi > zlo, zhi - zlo, 1.0), 0.0, 1.0)
        out[:, k] = lo + w * (hi - lo)
    return out
