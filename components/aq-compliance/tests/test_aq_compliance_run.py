"""aq-compliance end to end on hand-built CONC files: netCDF, PNG, report, determinism, errors."""

from __future__ import annotations

import datetime as dt
import filecmp
from pathlib import Path

import compliance
import netCDF4
import numpy as np
import pytest
from aqdomain import domain, ioapi

DAY1 = dt.date(2024, 7, 15)
O3 = ioapi.Variable("O3", "ppmV", "ozone")


def _conc(path: Path, day: dt.date, o3_ppm: np.ndarray) -> None:
    """A CONC-like file: O3 only, one layer, 24 hourly steps from 00:00 UTC of ``day``."""
    start = dt.datetime(day.year, day.month, day.day)
    ioapi.write_gridded(path, {O3: o3_ppm[:, None]}, start=start, tstep=10000)


def _two_days(folder: Path) -> None:
    """50 ppb everywhere; an 85 ppb block at rows 10-14, cols 20-24 during 12-19 LST of day 1."""
    folder.mkdir()
    shape = (24, domain.NROWS, domain.NCOLS)
    day1 = np.full(shape, 0.050, dtype=np.float32)
    day2 = np.full(shape, 0.050, dtype=np.float32)
    # 12-19 LST on 2024-07-15 = 19:00-02:00 UTC: hours 19-23 of day 1 and 00-02 of day 2
    day1[19:24, 10:15, 20:25] = 0.085
    day2[0:3, 10:15, 20:25] = 0.085
    day2[5, 30, 30] = -9999.0  # a missing hour (I/O API fill), 22 LST of day 1
    _conc(folder / "CONC_20240715.nc", DAY1, day1)
    _conc(folder / "CONC_20240716.nc", DAY1 + dt.timedelta(days=1), day2)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compliance")
    _two_days(root / "conc")
    for name in ("a", "b"):
        (root / name).mkdir()
        assert compliance.main(["--input-dir", str(root / "conc"), "--outdir", str(root / name)]) == 0
    return {"root": root, "a": root / "a", "b": root / "b"}


def test_mda8_netcdf_holds_the_hand_computed_values(outputs: dict[str, Path]) -> None:
    with netCDF4.Dataset(outputs["a"] / "mda8.nc") as ds:
        assert list(ds["DATE"][:]) == [20240715, 20240716]
        mda8 = ds["MDA8"][:]
        assert mda8[0, 12, 22] == 85.0 and mda8[0, 0, 0] == 50.0 and mda8[0, 12, 19] == 50.0
        # day 2 (LST) has hours only up to 16 LST: windows starting 07-11 valid (8, 8, 8, 7, 6 hours)
        assert np.all(ds["VALID_WINDOWS"][1] == 5) and np.all(ds["DAY_VALID"][1] == 0)
        assert np.all(ds["DAY_VALID"][0] == 1)
        assert ds["VALID_WINDOWS"][0, 30, 30] == 17  # one missing hour never drops a window below 6 of 8
        exceed = ds["EXCEEDANCE_DAYS"][:]
        assert exceed.sum() == 25 and np.all(exceed[10:15, 20:25] == 1)
        assert ds["MAX_MDA8"][12, 22] == 85.0 and ds["MAX_MDA8"][40, 40] == 50.0
        assert np.all(np.ma.getmaskarray(ds["FOURTH_HIGHEST"][:]))  # fewer than 4 valid days
        g = domain.grid()
        np.testing.assert_allclose(ds["LAT"][:], g.lat, atol=1e-4)
        assert int(ds.utc_offset_hours) == -7 and int(ds.GDTYP) == 2


def test_map_and_report_are_written(outputs: dict[str, Path]) -> None:
    png = (outputs["a"] / "mda8_max.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    from PIL import Image

    with Image.open(outputs["a"] / "mda8_max.png") as im:
        assert im.size == (700, 640)
    text = (outputs["a"] / "report.txt").read_text()
    assert "2024-07-15   2304/2304" in text and "2024-07-16      0/2304" in text
    assert "cells with at least one exceedance day: 25 of 2304" in text
    assert "highest MDA8 over valid days: 85 ppb" in text
    assert "4th-highest MDA8: not available" in text


def test_outputs_are_bit_reproducible(outputs: dict[str, Path]) -> None:
    for name in ("mda8.nc", "mda8_max.png", "report.txt"):
        assert filecmp.cmp(outputs["a"] / name, outputs["b"] / name, shallow=False), name


def test_a_single_day_has_incomplete_evening_windows(tmp_path: Path) -> None:
    conc = tmp_path / "conc"
    conc.mkdir()
    _conc(conc / "CONC.nc", DAY1, np.full((24, domain.NROWS, domain.NCOLS), 0.090, dtype=np.float32))
    assert compliance.main(["--input-dir", str(conc), "--outdir", str(tmp_path)]) == 0
    with netCDF4.Dataset(tmp_path / "mda8.nc") as ds:
        # 07-16 LST available: windows 07-11 valid; 90 ppb exceeds, so the day counts anyway
        assert np.all(ds["VALID_WINDOWS"][0] == 5) and np.all(ds["MDA8"][0] == 90.0)
        assert np.all(ds["DAY_VALID"][0] == 1) and np.all(ds["EXCEEDANCE_DAYS"][:] == 1)


def test_a_lookahead_day_completes_the_evening_and_is_not_reported(
    outputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ["--input-dir", str(outputs["root"] / "conc"), "--outdir", str(out), "--lookahead-days", "1"]
    assert compliance.main(args) == 0
    with netCDF4.Dataset(out / "mda8.nc") as ds:
        assert list(ds["DATE"][:]) == [20240715]  # 07-16 only completes 07-15's evening windows
        assert np.all(ds["DAY_VALID"][0] == 1) and np.all(ds["VALID_WINDOWS"][0] >= 16)
        assert ds.lookahead_days == "2024-07-16"
    text = (out / "report.txt").read_text()
    lines = text.splitlines()
    assert lines[4].startswith("rules:") and lines[6].startswith(
        "look-ahead: 2024-07-16 simulated, not reported"
    )
    assert "2024-07-15   2304/2304" in text and not any(line.startswith("2024-07-16") for line in lines)
    # the values of the reported day are those of the run without look-ahead
    with netCDF4.Dataset(out / "mda8.nc") as a, netCDF4.Dataset(outputs["a"] / "mda8.nc") as b:
        np.testing.assert_array_equal(a["MDA8"][0], b["MDA8"][0])


def test_a_lookahead_needs_a_day_to_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conc = tmp_path / "conc"
    conc.mkdir()
    _conc(conc / "CONC.nc", DAY1, np.full((24, domain.NROWS, domain.NCOLS), 0.05, dtype=np.float32))
    args = ["--input-dir", str(conc), "--outdir", str(tmp_path), "--lookahead-days", "1"]
    assert compliance.main(args) == 3
    assert "give at least one more day" in capsys.readouterr().err
    assert not (tmp_path / "report.txt").exists()


def test_the_map_shows_where_it_is_and_what_it_shows(outputs: dict[str, Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    captured: list[object] = []
    real_savefig = plt.Figure.savefig

    def keep(fig: object, *args: object, **kwargs: object) -> None:
        captured.append(fig)
        real_savefig(fig, *args, **kwargs)  # type: ignore[arg-type]

    plt.Figure.savefig = keep  # type: ignore[method-assign]
    try:
        oz = compliance.read_directory(outputs["root"] / "conc", -7)
        best, windows, valid = compliance.rules.daily(oz.hourly_lst, 2)
        res = compliance.rules.summarise(best, windows, valid)
        compliance.write_map(outputs["root"] / "map.png", oz, res, oz.days)
    finally:
        plt.Figure.savefig = real_savefig  # type: ignore[method-assign]
    ax = captured[0].axes[0]  # type: ignore[attr-defined]
    title = ax.get_title()
    assert "2024-07-15 to 2024-07-16" in title and "70 ppb" in title and "NAAQS" in title
    assert oz.model in title
    labels = {t.get_text() for t in ax.texts}
    assert {"Denver", "Boulder"} <= labels
    assert {"39.5°N", "40.0°N", "104.5°W", "105.0°W"} <= labels  # the graticule is labelled
    plt.close("all")


def test_the_utc_offset_shifts_the_windows(tmp_path: Path) -> None:
    conc = tmp_path / "conc"
    conc.mkdir()
    o3 = np.full((24, domain.NROWS, domain.NCOLS), 0.040, dtype=np.float32)
    o3[4:12] = 0.080  # 04-11 UTC: 21-04 LST at UTC-7 (evening windows), 04-11 LST at UTC+0
    _conc(conc / "CONC.nc", DAY1, o3)
    _conc(conc / "CONC2.nc", DAY1 + dt.timedelta(days=1), np.full_like(o3, 0.040))
    assert compliance.main(["--input-dir", str(conc), "--outdir", str(tmp_path), "--utc-offset", "0"]) == 0
    with netCDF4.Dataset(tmp_path / "mda8.nc") as ds:
        assert ds["MDA8"][0, 0, 0] == np.floor((5 * 80 + 3 * 40) / 8)  # window 07-14 UTC: 65


def test_bad_inputs_are_refused_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert compliance.main(["--input-dir", str(empty), "--outdir", str(tmp_path)]) == 3
    assert "no *.nc CONC files" in capsys.readouterr().err
    dup = tmp_path / "dup"
    dup.mkdir()
    o3 = np.full((24, domain.NROWS, domain.NCOLS), 0.04, dtype=np.float32)
    _conc(dup / "a.nc", DAY1, o3)
    _conc(dup / "b.nc", DAY1, o3)
    assert compliance.main(["--input-dir", str(dup), "--outdir", str(tmp_path)]) == 3
    assert "is also in a.nc" in capsys.readouterr().err
    noo3 = tmp_path / "noo3"
    noo3.mkdir()
    ioapi.write_gridded(
        noo3 / "x.nc", {ioapi.Variable("NO2", "ppmV", "x"): o3[:, None]}, start=dt.datetime(2024, 7, 15)
    )
    assert compliance.main(["--input-dir", str(noo3), "--outdir", str(tmp_path)]) == 3
    assert "variable O3 is missing" in capsys.readouterr().err
    assert not (tmp_path / "mda8.nc").exists()
