"""Helpers for the compare-engine tests: small netCDF files written on the fly."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pytest

NcWriter = Callable[..., Path]


def write_nc(
    path: Path,
    variables: Mapping[str, Any],
    *,
    dims: Mapping[str, int] | None = None,
    var_dims: Mapping[str, tuple[str, ...]] | None = None,
    attrs: Mapping[str, Any] | None = None,
    var_attrs: Mapping[str, Mapping[str, Any]] | None = None,
    fill: Mapping[str, Any] | None = None,
    fmt: str = "NETCDF4",
    chunks: Mapping[str, tuple[int, ...]] | None = None,
    dtypes: Mapping[str, str] | None = None,
) -> Path:
    """Write ``variables`` (name -> array). Dimensions default to d0, d1, ... sized by the arrays."""
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.set_auto_maskandscale(False)
        for name, size in (dims or {}).items():
            ds.createDimension(name, size)
        for name, data in variables.items():
            data = np.asarray(data)
            names = (var_dims or {}).get(name) or tuple(f"{name}_d{i}" for i in range(data.ndim))
            for dim, size in zip(names, data.shape, strict=True):
                if dim not in ds.dimensions:
                    ds.createDimension(dim, size)
            kwargs: dict[str, Any] = {}
            if fill and name in fill:
                kwargs["fill_value"] = fill[name]
            if chunks and name in chunks:
                kwargs["chunksizes"] = chunks[name]
            dtype = (dtypes or {}).get(name, data.dtype)
            var = ds.createVariable(name, dtype, names, **kwargs)
            for key, value in ((var_attrs or {}).get(name) or {}).items():
                var.setncattr(key, value)
            var.set_auto_maskandscale(False)
            if data.ndim:
                var[...] = data
            else:
                var.assignValue(data)
        for key, value in (attrs or {}).items():
            ds.setncattr(key, value)
    return path


@pytest.fixture
def nc(tmp_path: Path) -> NcWriter:
    """``nc("a.nc", {"T": array}, attrs=..., ...)`` writes a netCDF file under tmp_path."""

    def make(name: str, variables: Mapping[str, Any], **kwargs: Any) -> Path:
        return write_nc(tmp_path / name, variables, **kwargs)

    return make


@pytest.fixture
def field() -> np.ndarray:
    """A reproducible float32 field (4, 5, 6) with values in [1, 2)."""
    return (np.random.default_rng(7).random((4, 5, 6)) + 1).astype(np.float32)
