"""Run wrf-python's getvar diagnostics on a wrfout and print what they return, one JSON line each.

    python wrf_python_diagnostics.py WRFOUT TIMEIDX NAME [NAME ...]

Run in a subprocess by the tests: a Fortran abort inside wrf-python (as `slp` once did on a shallow
file) ends this process, not pytest. Before each diagnostic a line ``start NAME`` is printed (and
flushed), so the last one shows which diagnostic died. Each result line is ``{"name": ..., "parts":
[{"shape": [...], "valid": fraction, "min": ..., "max": ...}, ...]}``: one part per leading component
of a multi-field diagnostic (uvmet's u and v, cape_2d's MCAPE, MCIN, LCL, LFC ...), the statistics over
the values that are finite and not masked as missing.
"""

from __future__ import annotations

import json
import sys
import warnings

import netCDF4
import numpy as np

# diagnostics whose first axis lists several fields rather than levels
MULTI = {
    "cape_2d": 4,
    "cape_3d": 2,
    "cloudfrac": 3,
    "uvmet": 2,
    "uvmet10": 2,
    "wspd_wdir": 2,
    "wspd_wdir10": 2,
    "uvmet_wspd_wdir": 2,
    "uvmet10_wspd_wdir": 2,
}


def summary(values: np.ndarray) -> dict[str, object]:
    data = np.ma.masked_invalid(np.ma.asarray(values, dtype=np.float64))
    data = np.ma.masked_where(np.abs(data.filled(0.0)) > 1.0e30, data)  # wrf-python's fill values
    valid = ~np.ma.getmaskarray(data)
    out: dict[str, object] = {"shape": list(data.shape), "valid": float(valid.mean()) if data.size else 0.0}
    if valid.any():
        out["min"] = float(data.min())
        out["max"] = float(data.max())
    return out


def main(argv: list[str]) -> int:
    import wrf

    path, timeidx, names = argv[0], int(argv[1]), argv[2:]
    warnings.simplefilter("ignore")
    with netCDF4.Dataset(path) as nc:
        for name in names:
            print(f"start {name}", flush=True)
            var = wrf.getvar(nc, name, timeidx=timeidx)
            values = np.ma.asarray(getattr(var, "values", var))
            if values.dtype.kind not in "fiu":  # times
                print(json.dumps({"name": name, "text": str(values.ravel()[0])}), flush=True)
                continue
            count = MULTI.get(name)
            parts = [values[i] for i in range(count)] if count else [values]
            print(json.dumps({"name": name, "parts": [summary(p) for p in parts]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
