"""Make the coarse large-scale input of `wrf`: a deterministic summer-day synoptic state.

Stands in for a global model's analysis/forecast (e.g. GFS at 0.5 degree, 3-hourly) on a
latitude-longitude grid around the reference domain. The fields follow textbook summer-day
climatology of the Colorado Front Range: a diurnal temperature wave peaking mid-afternoon, a
westerly flow aloft, an upslope (easterly) plains flow by day and drainage (westerly) flow by
night, afternoon convective cloud over the mountains.

File convention (what `downscale.py` reads; a different day's coarse file must follow it):
  dims time (hours since <day> 00:00 UTC, CF units string), level (m above ground), lat, lon (ascending)
  HGT(lat, lon) m          coarse-model terrain
  T2, Q2, PSFC, CLDFRA (time, lat, lon)   K, kg kg-1, Pa, 1 (total cloud fraction)
  U, V (time, level, lat, lon)            m s-1, earth-relative (east, north)
  T (time, level, lat, lon)               K

Run: python3 synoptic.py --date 2024-07-15 --out coarse.nc
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import netCDF4
import numpy as np

HERE = Path(__file__).resolve().parent
# in the image aqdomain is on PYTHONPATH (/app/libs); on the host it is in the repository's libs/
for _libs in (HERE / "libs", *(p / "libs" for p in HERE.parents[1:2])):
    if (_libs / "aqdomain").is_dir() and str(_libs) not in sys.path:
        sys.path.insert(0, str(_libs))

from aqdomain import domain, surface  # noqa: E402

LATS = np.arange(38.0, 42.01, 0.5)
LONS = np.arange(-107.5, -102.49, 0.5)
# m above ground: the boundary layer, the free troposphere and the lower stratosphere up to the top of
# the wrf column (5000 Pa, about 20.6 km above sea level)
LEVELS_M = np.array(
    [10.0, 50.0, 150.0, 400.0, 800.0, 1500.0, 2500.0, 4000.0, 6000.0, 8000.0, 10000.0, 12000.0, 14000.0,
     16000.0, 18000.0, 20000.0]
)  # fmt: skip
BL_TOP_M = 2500.0  # the diurnal boundary-layer structure lives below this height
FREE_LAPSE = 0.0065  # K m-1 above it (US Standard Atmosphere 1976 troposphere)
FREE_LAPSE_OFFSET_K = 2.0  # the free troposphere is this much colder than the surface's lapse line
TROPOPAUSE_K = 213.0  # a midsummer mid-latitude tropopause (about 15 km above sea level here)
STRATOSPHERE_LAPSE = -0.002  # K m-1: temperature rises 2 K/km in the lower stratosphere
JET_TOP_M = 11_500.0  # height above ground of the westerly jet's core (about 13 km above sea level)
HOURS = np.arange(0, 25, 3)


def coarse_terrain() -> np.ndarray:
    """Terrain as a ~50 km global model sees it: the analytic terrain box-averaged over +-25 km."""
    lat2, lon2 = np.meshgrid(LATS, LONS, indexing="ij")
    x, y = domain.ll_to_xy(lat2, lon2)
    offs = np.linspace(-25_000.0, 25_000.0, 11)
    acc = np.zeros(x.shape)
    for ox in offs:
        for oy in offs:
            acc += surface.terrain_at(x + ox, y + oy)
    return acc / offs.size**2


def synoptic_fields(day: dt.date) -> dict[str, np.ndarray]:
    """All coarse fields for one UTC day (9 times, 00..24 UTC)."""
    hgt = coarse_terrain()
    lat2, lon2 = np.meshgrid(LATS, LONS, indexing="ij")
    local = (HOURS + domain.LOCAL_UTC_OFFSET_H) % 24  # MST hour
    # diurnal wave: minimum near 05 MST, maximum near 15 MST (phase of a 24 h cosine)
    wave = -np.cos(2 * np.pi * (local - 3.0) / 24.0)  # -1 at 03, +1 at 15
    wave = wave[:, None, None]
    day1 = np.clip(np.sin(np.pi * (local - 5.0) / 14.0), 0.0, None)  # 0 at night, 1 near 12 MST
    daytime = day1[:, None, None]
    t_sl = 298.0 - 0.6 * (lat2 - 40.0)  # a weak north-south gradient at 1600 m
    t2 = t_sl + 8.0 * wave - 0.0065 * (hgt - 1600.0)
    rh = np.clip(0.55 - 0.25 * wave - 0.00005 * (hgt - 1600.0), 0.15, 0.95)
    psfc_sl = 101_325.0 - 60.0 * (lat2 - 40.0) + 80.0 * np.sin(2 * np.pi * HOURS / 24.0)[:, None, None]
    psfc = psfc_sl * (1.0 - 0.0065 * hgt / 288.15) ** 5.25588
    es = 611.2 * np.exp(17.67 * (t2 - 273.15) / (t2 - 29.65))  # Bolton (1980)
    q2 = rh * 0.622 * es / (psfc - 0.378 * es)
    mountains = np.clip((hgt - 2200.0) / 800.0, 0.0, 1.0)
    cld = np.clip(0.05 + 0.55 * daytime**2 * mountains + 0.1 * daytime * (1 - mountains), 0.0, 1.0)

    z = LEVELS_M[None, :, None, None]
    zb = np.minimum(z, BL_TOP_M)
    # westerly flow aloft strengthening with height to a jet near the tropopause (+16 m/s at its core,
    # half of that left at 20 km), a slight cyclonic turning north of the centre
    jet = np.clip((z - BL_TOP_M) / (JET_TOP_M - BL_TOP_M), 0.0, None)
    jet = np.where(jet <= 1.0, jet, np.maximum(1.0 - 0.5 * (z - JET_TOP_M) / (20_000.0 - JET_TOP_M), 0.5))
    u_aloft = 6.0 + 5.0 * (zb / BL_TOP_M) + 16.0 * jet + 1.5 * (lat2 - 40.0)
    v_aloft = 1.5 - 1.0 * (lon2 + 105.0) + 0.8 * (lat2 - 40.0)
    shape = np.log1p(zb / 0.3) / np.log1p(BL_TOP_M / 0.3)  # near-surface reduction (log-law like)
    plains = np.clip((2300.0 - hgt) / 700.0, 0.0, 1.0)
    # thermally driven mountain-plains wind in the lowest ~1 km: easterly upslope by day, westerly at night
    thermal = (-4.0 * day1 + 2.5 * (1.0 - day1))[:, None, None, None] * np.exp(-z / 600.0)
    u = u_aloft * shape + thermal * plains[None, None]
    v = v_aloft * shape + 0.5 * np.sin(2 * np.pi * local / 24.0)[:, None, None, None] * np.exp(-z / 600.0)
    # temperature: in the boundary layer a mixed layer by day, a surface inversion by night; above it a
    # steady free troposphere (standard lapse rate, -5 C near 500 hPa) into which the boundary layer's
    # diurnal anomaly fades over 1.5 km, up to the tropopause, then a warming lower stratosphere
    lapse = -0.0065 - 0.0030 * day1[:, None, None, None]  # K/m
    inversion = 7.0 * (1.0 - day1[:, None, None, None]) * (1.0 - np.exp(-zb / 150.0))
    t_bl = t2[:, None] + lapse * zb + inversion
    t_free = (t_sl - 0.0065 * (hgt - 1600.0))[None, None] - FREE_LAPSE_OFFSET_K - FREE_LAPSE * z
    anomaly = (t_bl - t_free)[:, LEVELS_M.tolist().index(BL_TOP_M)][:, None]
    temp = np.where(z <= BL_TOP_M, t_bl, t_free + anomaly * np.exp(-(z - BL_TOP_M) / 1500.0))
    z_trop = (temp - TROPOPAUSE_K) / FREE_LAPSE  # how far above its own height each level's T reaches T_trop
    above = np.maximum(-z_trop, 0.0)  # metres above the tropopause (0 below it)
    temp = np.where(z_trop >= 0.0, temp, TROPOPAUSE_K - STRATOSPHERE_LAPSE * above)
    nt = len(HOURS)
    return {
        "HGT": hgt.astype(np.float32),
        "T2": t2.astype(np.float32),
        "Q2": q2.astype(np.float32),
        "PSFC": psfc.astype(np.float32),
        "CLDFRA": cld.astype(np.float32),
        "U": np.broadcast_to(u, (nt, len(LEVELS_M), *hgt.shape)).astype(np.float32),
        "V": np.broadcast_to(v, (nt, len(LEVELS_M), *hgt.shape)).astype(np.float32),
        "T": temp.astype(np.float32),
    }


VAR_META = {
    "HGT": (("lat", "lon"), "m", "coarse-model terrain height"),
    "T2": (("time", "lat", "lon"), "K", "2 m temperature"),
    "Q2": (("time", "lat", "lon"), "kg kg-1", "2 m water vapour mixing ratio"),
    "PSFC": (("time", "lat", "lon"), "Pa", "surface pressure"),
    "CLDFRA": (("time", "lat", "lon"), "1", "total cloud fraction"),
    "U": (("time", "level", "lat", "lon"), "m s-1", "eastward wind (earth-relative)"),
    "V": (("time", "level", "lat", "lon"), "m s-1", "northward wind (earth-relative)"),
    "T": (("time", "level", "lat", "lon"), "K", "air temperature"),
}


def write_coarse(day: dt.date, path: Path) -> None:
    fields = synoptic_fields(day)
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.title = "Synthetic summer-day synoptic state (coarse lat-lon) for the r2o wrf reference downscaler"
        ds.source = "components/wrf/synoptic.py (deterministic; no observations)"
        ds.createDimension("time", len(HOURS))
        ds.createDimension("level", len(LEVELS_M))
        ds.createDimension("lat", len(LATS))
        ds.createDimension("lon", len(LONS))
        t = ds.createVariable("time", "f8", ("time",))
        t.units = f"hours since {day:%Y-%m-%d} 00:00:00"
        t.calendar = "standard"
        t[:] = HOURS
        lev = ds.createVariable("level", "f4", ("level",))
        lev.units = "m"
        lev.long_name = "height above ground"
        lev[:] = LEVELS_M
        la = ds.createVariable("lat", "f4", ("lat",))
        la.units = "degrees_north"
        la[:] = LATS
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units = "degrees_east"
        lo[:] = LONS
        for name, (dims, units, desc) in VAR_META.items():
            var = ds.createVariable(name, "f4", dims)
            var.units = units
            var.long_name = desc
            var[:] = fields[name]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--date", default="2024-07-15", help="UTC day, YYYY-MM-DD")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    write_coarse(dt.date.fromisoformat(args.date), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
