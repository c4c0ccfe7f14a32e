"""The I/O API writer: header, TFLAG, determinism, atomic writes, and PseudoNetCDF's ioapi reader."""

import datetime as dt
import hashlib
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from aqdomain import domain, ioapi

START = dt.datetime(2024, 7, 15)
VARS = [ioapi.Variable("NO", "moles/s", "nitric oxide"), ioapi.Variable("NO2", "moles/s", "nitrogen dioxide")]


def _write(path: Path, nlays: int = 2) -> None:
    rng = np.random.default_rng(0)
    data = {v: rng.random((3, nlays, 48, 48)) for v in VARS}
    ioapi.write_gridded(path, data, start=START, filedesc="test file", upnam="TEST")


def test_header_and_tflag(tmp_path: Path) -> None:
    path = tmp_path / "emis.nc"
    _write(path)
    with netCDF4.Dataset(path) as ds:
        assert ds.file_format == "NETCDF3_CLASSIC"
        assert ds.dimensions["TSTEP"].isunlimited() and len(ds.dimensions["TSTEP"]) == 3
        assert ds.getncattr("VAR-LIST") == "NO              NO2             "
        assert ds.SDATE == 2024197 and ds.STIME == 0 and ds.TSTEP == 10000
        assert ds.GDTYP == 2 and ds.P_ALP == 30.0 and ds.P_BET == 60.0 and ds.P_GAM == -105.0
        assert ds.XORIG == -96000.0 and ds.XCELL == 4000.0 and ds.NCOLS == 48 and ds.NLAYS == 2
        # MCIP's header for layers collapsed from WRF's: VGWRFEM (7), VGTOP = P_TOP, VGLVLS = the eta values
        assert ds.VGTYP == 7 and ds.VGTOP == 5000.0
        np.testing.assert_allclose(ds.VGLVLS, [1.0, 0.9947, 0.9868], rtol=0, atol=5e-7)
        assert len(ds.variables["NO"].long_name) == 16 and len(ds.variables["NO"].var_desc) == 80
        tf = ds.variables["TFLAG"][:]
        assert tf.shape == (3, 2, 2)
        assert tf[2, 1].tolist() == [2024197, 20000]
        assert ioapi.read_times(ds) == [START + dt.timedelta(hours=h) for h in range(3)]
        assert ioapi.variable_names(ds) == ["NO", "NO2"]


def test_bit_reproducible(tmp_path: Path) -> None:
    _write(tmp_path / "a.nc")
    _write(tmp_path / "b.nc")
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.nc", "b.nc")]
    assert digest[0] == digest[1]


def test_no_partial_file_on_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.nc"
    with (
        pytest.raises(ValueError, match="expected shape"),
        ioapi.create_gridded(path, VARS, start=START, nsteps=2, nlays=1) as f,
    ):
        f.write("NO", np.zeros((5, 5)))
    assert list(tmp_path.iterdir()) == []


def test_time_helpers() -> None:
    assert ioapi.julian_date(dt.date(2024, 12, 31)) == 2024366
    assert ioapi.hhmmss(dt.timedelta(hours=24)) == 240000
    assert ioapi.from_tflag(2024197, 130000) == dt.datetime(2024, 7, 15, 13)


def test_pseudonetcdf_reads_it_as_ioapi(tmp_path: Path) -> None:
    import PseudoNetCDF as pnc

    path = tmp_path / "emis.nc"
    _write(path)
    with warnings.catch_warnings():
        # PseudoNetCDF announces its (correct, WRF-consistent) sphere assumption on every projection call
        warnings.filterwarnings("ignore", message="IOAPI_ISPH is assumed", category=UserWarning)
        f = pnc.pncopen(str(path), format="ioapi")
        assert type(f).__name__ == "ioapi"
        times = f.getTimes()
        lon, lat = f.ij2ll(0, 0)
        lon2, lat2 = f.ij2ll(47, 47)
    assert [t.replace(tzinfo=None) for t in times] == [START + dt.timedelta(hours=h) for h in range(3)]
    g = domain.grid()
    assert float(lat) == pytest.approx(g.lat[0, 0], abs=1e-6)
    assert float(lon) == pytest.approx(g.lon[0, 0], abs=1e-6)
    assert float(lat2) == pytest.approx(g.lat[47, 47], abs=1e-6)
    assert float(lon2) == pytest.approx(g.lon[47, 47], abs=1e-6)


def test_filedesc_and_history_are_80_character_lines(tmp_path: Path) -> None:
    path = tmp_path / "emis.nc"
    desc = "first line\n" + "a long second line " * 8 + "\n\nafter a blank line"
    ioapi.write_gridded(
        path,
        {VARS[0]: np.zeros((1, 1, 48, 48))},
        start=START,
        filedesc=desc,
        history="made by a test",
    )
    with netCDF4.Dataset(path) as ds:
        filedesc, history = str(ds.FILEDESC), str(ds.HISTORY)
    assert len(filedesc) % 80 == 0 and len(history) == 80
    lines = ioapi.split_description(filedesc)
    assert lines[0] == "first line"
    assert all(len(line) <= 80 for line in lines) and len(lines) == 5  # the long line wrapped once
    assert " ".join(lines[1:3]).split() == ("a long second line " * 8).split()
    assert lines[3:] == ["", "after a blank line"]
    assert ioapi.split_description(history) == ["made by a test"]
    many = "\n".join(f"line {i}" for i in range(100))
    assert len(ioapi.description_lines(many)) == 60 * 80  # the I/O API keeps at most 60 lines


def test_audit_meta_fails_only_on_its_numpy_type_quirk(tmp_path: Path) -> None:
    import PseudoNetCDF as pnc

    path = tmp_path / "emis.nc"
    _write(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PseudoNetCDF's own deprecation notices
        _, audit, var_audits = pnc.pncopen(str(path), format="ioapi").audit_meta(fail="ignore")
    failed = sorted(k for k, ok in audit.items() if not ok and k != "SUMMARY")
    # integer attributes read back as numpy.int32, which audit_meta compares with Python ints
    assert failed == ["type_CDATE", "type_CTIME", "type_FTYPE", "type_GDTYP", "type_NTHIK", "type_VGTYP",
                      "type_WDATE", "type_WTIME"]  # fmt: skip
    assert all(a["SUMMARY"] for a in var_audits.values())
