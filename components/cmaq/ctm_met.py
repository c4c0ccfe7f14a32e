"""Meteorology for the chemical transport model: read a wrfout file and derive hourly transport fields.

From the wrfout convention: U/V (staggered, grid-relative), T (potential temperature - 300 K), P + PB
(pressure), PH + PHB (geopotential), ZNW (eta of WRF's full levels), PBLH, U10/V10, T2, PSFC, SWDOWN,
XLAT/XLONG, and UST/HFX when present. Each model hour [h, h + 1) uses the mean of the wrfout steps h and
h + 1 (step h alone for the last hour when the file holds 24 steps).

Layer collapsing, as MCIP does it for CMAQ: the model's layer interfaces are a subset of WRF's full eta
levels (aqdomain.domain.ETA_INTERFACES, each found in the file's ZNW). Each model layer takes the
mass-weighted (d eta-weighted) mean of the WRF layers it spans for theta, pressure and the winds; its
interface heights are WRF's (PH + PHB) / g at those levels, so the layers follow the terrain and the
hour's temperature column by column.

Derived: air molar density p / (R T); face mass fluxes rho u dy dz (mol/s); the vertical mass flux from
continuity; friction velocity u* (UST, else kappa |U10| / ln(10 m / z0)); convective velocity
w* = (g / T2 H / (rho cp) PBLH)^(1/3) with H = HFX when present, else 0.3 SWDOWN (a dry-land Bowen-ratio
proxy, documented in the README); the K profile of :func:`ctm_transport.eddy_diffusivity`.
"""

from __future__ import annotations

import datetime as dt
import itertools
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
    """Hourly meteorology of one UTC day on the model grid (nt = 24 or 25 steps from 00:00).

    ``z_interfaces`` holds the layer interface heights above ground, (nt, nz + 1, ny, nx) as read from a
    wrfout, or (nz + 1,) for layers of fixed height (the transport tests).
    """

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
    z_interfaces: np.ndarray  # (nt, nz + 1, ny, nx) or (nz + 1,), m above ground
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
    z: np.ndarray  # layer interface heights above ground (nz + 1, ny, nx), or (nz + 1, 1, 1) if fixed


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
    zf = met.z_interfaces
    zf = zf[:, None, None] if zf.ndim == 1 else mean(zf)
    dz = np.diff(zf, axis=0)
    dz_x, dz_y = _face_values(dz, 2, periodic), _face_values(dz, 1, periodic)
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
    fx = rx * u * met.dy * dz_x
    fy = ry * v * met.dx * dz_y
    fz = continuity_vertical_flux(fx, fy)
    m = rho * met.dx * met.dy * dz
    kz = eddy_diffusivity(zf, mean(met.pblh), mean(met.ustar), mean(met.wstar))
    return HourMet(m=m, rho=rho, fx=fx, fy=fy, fz=fz, temp=temp, kz=kz, swdown=mean(met.swdown), z=zf)


def _face_values(a: np.ndarray, axis: int, periodic: bool) -> np.ndarray:
    """``a`` at the n + 1 faces along ``axis`` (unchanged when it does not vary along it)."""
    if a.shape[axis] == 1:
        return a
    if not periodic:
        return _face_average(a, axis)
    n = a.shape[axis]
    wrapped = 0.5 * (np.take(a, [-1, *range(n - 1)], axis=axis) + a)  # face k between cells k - 1 and k
    return np.concatenate([wrapped, np.take(wrapped, [0], axis=axis)], axis=axis)


def _var(ds: netCDF4.Dataset, name: str, path: Path) -> np.ndarray:
    if name not in ds.variables:
        raise MetInputError(
            f"{path}: variable {name} is missing; cmaq needs a wrfout-convention file with "
            "U, V, T, P, PB, PH, PHB, ZNW, PBLH, U10, V10, T2, PSFC, SWDOWN, XLAT, XLONG, Times"
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


def collapse_matrix(znw: np.ndarray, eta_interfaces: np.ndarray, path: Path) -> tuple[list[int], np.ndarray]:
    """WRF full-level indices of the model's interfaces and the (nz, nz_wrf) d eta weights of each layer."""
    levels: list[int] = []
    for eta in eta_interfaces:
        hits = np.flatnonzero(np.abs(znw - eta) < 5.0e-5)
        if hits.size != 1:
            raise MetInputError(
                f"{path}: ZNW has no full level at eta = {eta:.4f}; cmaq's layers collapse WRF's levels "
                f"(interfaces {[float(e) for e in eta_interfaces]}), so each must be one of WRF's eta_levels"
            )
        levels.append(int(hits[0]))
    if levels[0] != 0 or any(b <= a for a, b in itertools.pairwise(levels)):
        raise MetInputError(f"{path}: the model interfaces must start at the ground and rise ({levels})")
    thickness = -np.diff(znw)
    weights = np.zeros((len(levels) - 1, len(thickness)))
    for layer, (lo, hi) in enumerate(itertools.pairwise(levels)):
        weights[layer, lo:hi] = thickness[lo:hi] / thickness[lo:hi].sum()
    return levels, weights


def _collapse(a: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(nt, nz_wrf, ...) -> (nt, nz, ...): each model layer the weighted mean of its WRF layers."""
    return np.einsum("lk,tk...->tl...", weights, a)


def read_wrfout(
    path: Path, day: dt.date, eta_interfaces: np.ndarray, roughness: np.ndarray | float
) -> MetDay:
    """One UTC day (24 or 25 hourly steps from 00:00) of wrfout meteorology on the model layers."""
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
        levels, weights = collapse_matrix(_var(ds, "ZNW", path)[i0], np.asarray(eta_interfaces), path)
        u = _collapse(_var(ds, "U", path)[sel], weights)
        v = _collapse(_var(ds, "V", path)[sel], weights)
        theta = _collapse(_var(ds, "T", path)[sel] + 300.0, weights)
        pres = _collapse(_var(ds, "P", path)[sel] + _var(ds, "PB", path)[sel], weights)
        zf = (_var(ds, "PH", path)[sel] + _var(ds, "PHB", path)[sel]) / GRAVITY
        z_interfaces = zf[:, levels] - zf[:, :1]
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
        z_interfaces=z_interfaces,
        dx=dx,
        dy=dy,
    )
