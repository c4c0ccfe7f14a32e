"""Small synthetic inputs following the AQcast contract: a wrfout-convention file and merged emissions.

Used by the tests and the benchmark when the wrf / emissions golden outputs are not available.
Everything is an analytic, deterministic function of the grid and the hour.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
from aqdomain import domain, ioapi, solar


def write_wrfout(path: Path, day: dt.date, *, wind_speed: float = 5.0) -> None:
    """A 25-step wrfout-convention file on the reference grid, 8 levels: the model layers themselves
    (ZNW = the model's eta interfaces, so nothing is collapsed) at their nominal heights."""
    g = domain.grid()
    nz, ny, nx = domain.NLAYS, domain.NROWS, domain.NCOLS
    zf = domain.layer_interfaces()
    zm = domain.layer_midpoints()
    start = dt.datetime(day.year, day.month, day.day)
    times = [start + dt.timedelta(hours=h) for h in range(25)]
    hgt = 1600.0 + 0.0 * g.x
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.createDimension("Time", None)
        ds.createDimension("DateStrLen", 19)
        ds.createDimension("bottom_top", nz)
        ds.createDimension("bottom_top_stag", nz + 1)
        ds.createDimension("south_north", ny)
        ds.createDimension("west_east", nx)
        ds.createDimension("south_north_stag", ny + 1)
        ds.createDimension("west_east_stag", nx + 1)
        ds.setncattr("DX", np.float32(domain.DX))
        ds.setncattr("DY", np.float32(domain.DY))
        tv = ds.createVariable("Times", "S1", ("Time", "DateStrLen"))
        for t, when in enumerate(times):
            tv[t] = netCDF4.stringtochar(np.array([when.strftime("%Y-%m-%d_%H:%M:%S")], dtype="S19"))[0]

        def var(name: str, dims: tuple[str, ...], data: np.ndarray) -> None:
            ds.createVariable(name, "f4", dims)[:] = data.astype(np.float32)

        d3 = ("Time", "south_north", "west_east")
        d4 = ("Time", "bottom_top", "south_north", "west_east")
        var("XLAT", d3, np.broadcast_to(g.lat, (25, ny, nx)))
        var("XLONG", d3, np.broadcast_to(g.lon, (25, ny, nx)))
        var("HGT", d3, np.broadcast_to(hgt, (25, ny, nx)))
        hours = np.arange(25)
        cosz = np.array([solar.cos_zenith_utc(w, g.lat, g.lon) for w in times])
        swdown = 950.0 * cosz
        local = (hours - 7) % 24
        pblh = 150.0 + 1850.0 * np.clip(np.sin(np.pi * (local - 7) / 12.0), 0.0, None)
        direction = np.radians(250.0 + 20.0 * np.sin(2 * np.pi * hours / 24.0))  # wind from WSW
        speed = wind_speed * (1.0 + 0.4 * (zm / 2300.0))
        ue = -speed[None, :] * np.sin(direction)[:, None]
        ve = -speed[None, :] * np.cos(direction)[:, None]
        # a gentle deformation so the flow is not uniform (and not divergence-free)
        stretch = 1.0 + 0.1 * np.sin(np.pi * (np.arange(nx + 1) / nx))
        u = ue[:, :, None, None] * np.ones((1, 1, ny, 1)) * stretch[None, None, None, :]
        v = ve[:, :, None, None] * np.ones((1, 1, ny + 1, nx))
        var("U", ("Time", "bottom_top", "south_north", "west_east_stag"), u)
        var("V", ("Time", "bottom_top", "south_north_stag", "west_east"), v)
        var("U10", d3, np.broadcast_to(0.7 * ue[:, 0, None, None], (25, ny, nx)))
        var("V10", d3, np.broadcast_to(0.7 * ve[:, 0, None, None], (25, ny, nx)))
        t_surf = 295.0 + 8.0 * np.sin(np.pi * (local - 9) / 12.0)
        temp = t_surf[:, None, None, None] - 0.0065 * zm[None, :, None, None] + 0.0 * g.x
        psfc = 84000.0 + 0.0 * g.x
        pres = psfc * np.exp(-9.81 * zm[:, None, None] / (287.0 * 290.0))
        pres4 = np.broadcast_to(pres, (25, nz, ny, nx))
        theta = temp * (1.0e5 / pres4) ** (287.04 / 1004.6)
        var("T", d4, theta - 300.0)
        var("P", d4, np.zeros((25, nz, ny, nx)))
        var("PB", d4, pres4)
        phb = np.broadcast_to((9.81 * (zf[:, None, None] + hgt))[None], (25, nz + 1, ny, nx))
        var("PH", ("Time", "bottom_top_stag", "south_north", "west_east"), np.zeros((25, nz + 1, ny, nx)))
        var("PHB", ("Time", "bottom_top_stag", "south_north", "west_east"), phb)
        var("ZNW", ("Time", "bottom_top_stag"), np.broadcast_to(domain.eta_interfaces(), (25, nz + 1)))
        var("PBLH", d3, np.broadcast_to(pblh[:, None, None], (25, ny, nx)))
        var("SWDOWN", d3, swdown)
        var("T2", d3, np.broadcast_to(t_surf[:, None, None], (25, ny, nx)))
        var("PSFC", d3, np.broadcast_to(psfc, (25, ny, nx)))


def write_emissions(path: Path, day: dt.date, *, scale: float = 1.0) -> None:
    """Merged emissions (NO, NO2, ROC, moles/s, 25 steps, 8 layers): a city at the surface and one stack."""
    g = domain.grid()
    nz = domain.NLAYS
    r2 = (g.x - 10_000.0) ** 2 + (g.y + 5_000.0) ** 2
    city = np.exp(-r2 / (2 * 12_000.0**2))
    start = dt.datetime(day.year, day.month, day.day)
    hours = np.arange(25)
    local = (hours - 7) % 24
    diurnal = 0.6 + 0.8 * np.exp(-(((local - 8) / 2.5) ** 2)) + 0.6 * np.exp(-(((local - 17) / 2.5) ** 2))
    nox = np.zeros((25, nz, domain.NROWS, domain.NCOLS))
    nox[:, 0] = scale * 1.5 * city[None] * diurnal[:, None, None]  # mol/s per cell of NOx at the peak
    nox[:, 3, 20, 30] = scale * 8.0  # a power-plant stack in layer 4
    roc = np.zeros_like(nox)
    roc[:, 0] = scale * 6.0 * city[None] * diurnal[:, None, None]  # mol C/s
    data = {
        ioapi.Variable("NO", "moles/s", "nitric oxide"): 0.9 * nox,
        ioapi.Variable("NO2", "moles/s", "nitrogen dioxide"): 0.1 * nox,
        ioapi.Variable("ROC", "moles/s", "reactive organic compounds (carbon)"): roc,
    }
    ioapi.write_gridded(path, data, start=start, tstep=10000)
