"""Transport: mass conservation, positivity, monotonicity, mass consistency, emissions, deposition."""

from __future__ import annotations

import datetime as dt

import ctm
import numpy as np
import pytest
from ctm_met import MetDay, hour_met
from ctm_transport import advect, continuity_vertical_flux, diffuse, eddy_diffusivity, max_stable_step

Z_INTERFACES = np.array([0.0, 40.0, 100.0, 200.0, 400.0, 700.0, 1100.0, 1600.0, 2300.0])
START = dt.datetime(2024, 7, 15)


def _met(ny: int, nx: int, u: np.ndarray, v: np.ndarray, *, temp: float = 290.0, nt: int = 25) -> MetDay:
    nz = len(Z_INTERFACES) - 1
    hours = np.arange(nt)
    pblh = 200.0 + 1600.0 * np.clip(np.sin(np.pi * (hours - 13) / 12.0), 0.0, None)
    zm = 0.5 * (Z_INTERFACES[1:] + Z_INTERFACES[:-1])
    pres = 85000.0 * np.exp(-9.81 * zm / (287.0 * temp))
    return MetDay(
        u=u,
        v=v,
        temp=np.full((nt, nz, ny, nx), temp),
        pres=np.broadcast_to(pres[None, :, None, None], (nt, nz, ny, nx)).copy(),
        pblh=np.broadcast_to(pblh[:, None, None], (nt, ny, nx)).copy(),
        ustar=np.full((nt, ny, nx), 0.3),
        wstar=np.broadcast_to((pblh > 300)[:, None, None] * 1.5, (nt, ny, nx)).copy(),
        swdown=np.zeros((nt, ny, nx)),
        lat=np.full((ny, nx), 40.0),
        lon=np.full((ny, nx), -105.0),
        z_interfaces=Z_INTERFACES,
        dx=4000.0,
        dy=4000.0,
    )


def _streamfunction_winds(ny: int, nx: int, nt: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Periodic, discretely non-divergent C-grid winds from a corner streamfunction, varying by hour."""
    nz = len(Z_INTERFACES) - 1
    xc = np.arange(nx + 1) / nx
    yc = np.arange(ny + 1) / ny
    u = np.empty((nt, nz, ny, nx + 1))
    v = np.empty((nt, nz, ny + 1, nx))
    for t in range(nt):
        for k in range(nz):
            amp = 4000.0 * 8.0 * (1.0 + 0.1 * k) * (1.0 + 0.3 * np.sin(2 * np.pi * t / 24))
            phase = 0.25 * t / 24 + 0.05 * k
            psi = amp * np.sin(2 * np.pi * (xc[None, :] + phase)) * np.sin(2 * np.pi * yc[:, None])
            psi += amp * 0.5 * np.cos(2 * np.pi * (yc[:, None] - phase))  # a meandering zonal flow
            u[t, k] = -(psi[1:, :] - psi[:-1, :]) / 4000.0
            v[t, k] = (psi[:, 1:] - psi[:, :-1]) / 4000.0
    return u, v


def _air_mass(met: MetDay, hour: int, periodic: bool) -> np.ndarray:
    return hour_met(met, hour, periodic=periodic).m


def test_advection_and_diffusion_conserve_mass_over_a_day_on_a_periodic_domain() -> None:
    ny, nx = 20, 24
    u, v = _streamfunction_winds(ny, nx)
    met = _met(ny, nx, u, v)
    rng = np.random.default_rng(3)
    c0 = np.zeros((7, 8, ny, nx))
    c0[:] = rng.uniform(0.0, 0.1, (7, 8, ny, nx)) ** 3  # skewed, with many near-zero values
    c0[:, :, 5:9, 6:10] += 0.2  # a sharp block
    m = _air_mass(met, 0, True)
    mass0 = (m[None] * c0).sum(axis=(1, 2, 3))
    hourly, final, stats = ctm.run_day(
        met, START, c0, np.zeros((7, 8)), None, chemistry=False, deposition=False, periodic=True
    )
    assert stats.steps >= 48  # the CFL limit forced several steps per hour
    mass1 = (m[None] * final).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(mass1, mass0, rtol=1e-6)
    assert np.all(final >= 0.0) and np.all(hourly >= 0.0)
    assert float(final.max()) <= float(c0.max()) * (1 + 1e-12)  # no new maxima (monotone)
    assert not np.allclose(final, c0)  # it did move


def test_max_step_respects_the_courant_limit() -> None:
    ny, nx = 6, 7
    u = np.full((25, 8, ny, nx + 1), 10.0)
    met = _met(ny, nx, u, np.zeros((25, 8, ny + 1, nx)))
    hm = hour_met(met, 0)
    dt_max = max_stable_step(hm.m, hm.fx, hm.fy, hm.fz)
    assert dt_max == pytest.approx(0.45 * 4000.0 / 10.0, rel=1e-9)


def test_a_uniform_mixing_ratio_stays_uniform_in_divergent_flow() -> None:
    """The continuity-derived vertical flux keeps advection consistent with the air mass."""
    ny, nx = 12, 14
    rng = np.random.default_rng(5)
    u = rng.uniform(-6.0, 9.0, (25, 8, ny, nx + 1))  # strongly divergent/convergent, open boundaries
    v = rng.uniform(-7.0, 5.0, (25, 8, ny + 1, nx))
    met = _met(ny, nx, u, v)
    level = np.array([0.04, 0.001, 0.002, 0.05, 0.0, 0.001, 0.0005])
    c0 = np.broadcast_to(level[:, None, None, None], (7, 8, ny, nx))
    bnd = np.repeat(level[:, None], 8, axis=1)
    _, final, _ = ctm.run_day(met, START, c0, bnd, None, chemistry=False, deposition=False, hours=3)
    np.testing.assert_allclose(final, c0, rtol=1e-10, atol=1e-16)


def test_vertical_flux_closes_the_column_mass_budget() -> None:
    rng = np.random.default_rng(9)
    fx = rng.normal(size=(8, 5, 7))
    fy = rng.normal(size=(8, 6, 6))
    fz = continuity_vertical_flux(fx, fy)
    div = (fx[..., 1:] - fx[..., :-1]) + (fy[:, 1:] - fy[:, :-1]) + (fz[1:] - fz[:-1])
    np.testing.assert_allclose(div, 0.0, atol=1e-12)
    assert np.all(fz[0] == 0.0)


def test_a_square_pulse_stays_bounded_and_positive_under_uniform_wind() -> None:
    ny, nx = 4, 60
    u = np.full((25, 8, ny, nx + 1), 7.0)
    met = _met(ny, nx, u, np.zeros((25, 8, ny + 1, nx)))
    hm = hour_met(met, 0, periodic=True)
    c = np.zeros((7, 8, ny, nx))
    c[:, :, :, 10:16] = 1.0
    dt_s = 200.0
    for i in range(50):
        c = advect(c, hm.m, hm.fx, hm.fy, hm.fz, dt_s, np.zeros((7, 8)), periodic=True, reverse=i % 2 == 1)
        assert c.min() >= 0.0 and c.max() <= 1.0 + 1e-12
    # the pulse moved 50 * 200 s * 7 m/s = 70 km = 17.5 cells downstream: centroid check
    profile = c[0, 0, 0]
    centroid = float((profile * np.arange(nx)).sum() / profile.sum())
    assert centroid == pytest.approx(12.5 + 17.5, abs=0.3)


def test_emissions_are_injected_into_their_layer_and_conserved() -> None:
    ny, nx, nz = 5, 5, 8
    met = _met(ny, nx, np.zeros((25, nz, ny, nx + 1)), np.zeros((25, nz, ny + 1, nx)))
    emis = np.zeros((2, 7, nz, ny, nx))
    emis[:, 1, 3, 2, 2] = 4.0  # NO, 4 mol/s in layer 4 of one cell
    c0 = np.zeros((7, nz, ny, nx))
    _, final, _ = ctm.run_day(
        met, START, c0, np.zeros((7, nz)), emis, chemistry=False, deposition=False, hours=2
    )
    m = _air_mass(met, 0, False)
    added = (m * final[1]).sum() / 1.0e6  # mol of NO
    assert added == pytest.approx(4.0 * 7200.0, rel=1e-9)
    column = (m * final[1])[:, 2, 2]
    assert column.argmax() == 3
    assert final[1, :, 0, 0].max() == 0.0  # no horizontal transport in calm air


def test_implicit_diffusion_mixes_the_boundary_layer_and_deposition_removes_mass() -> None:
    ny, nx, nz = 3, 3, 8
    m = np.broadcast_to(np.diff(Z_INTERFACES)[:, None, None] * 40.0 * 16e6, (nz, ny, nx)).copy()
    kz = eddy_diffusivity(
        Z_INTERFACES, np.full((ny, nx), 1500.0), np.full((ny, nx), 0.4), np.full((ny, nx), 2.0)
    )
    assert kz.shape == (nz - 1, ny, nx) and kz.max() > 50.0 and kz[-1].max() == pytest.approx(0.1)
    dzc = np.diff(0.5 * (Z_INTERFACES[1:] + Z_INTERFACES[:-1]))[:, None, None]
    dt_s = 300.0
    exch = dt_s * 16e6 * 40.0 * kz / dzc
    c = np.zeros((7, nz, ny, nx))
    c[:, 0] = 1.0
    total0 = (m * c).sum()
    for _ in range(36):  # 3 hours
        diffuse(c, m, exch, np.zeros((7, ny, nx)), None)
    assert (m * c).sum() == pytest.approx(total0, rel=1e-12)
    in_pbl = c[0, :5, 1, 1]
    assert in_pbl.max() / in_pbl.min() < 1.2  # well mixed below 1100 m (PBL 1500 m)
    dep = np.full((7, ny, nx), dt_s * 16e6 * 40.0 * 0.01)  # vd = 1 cm/s
    before = (m * c).sum()
    diffuse(c, m, exch, dep, None)
    assert (m * c).sum() < before
    assert np.all(c >= 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_advection_stays_non_negative_in_random_divergent_flow(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ny, nx = 12, 14
    u = rng.uniform(-15.0, 15.0, (25, 8, ny, nx + 1))
    v = rng.uniform(-15.0, 15.0, (25, 8, ny + 1, nx))
    hm = hour_met(_met(ny, nx, u, v), 0)
    dt_s = max_stable_step(hm.m, hm.fx, hm.fy, hm.fz)
    c = rng.uniform(0.0, 1.0, (7, 8, ny, nx)) ** 4  # many values near zero
    for i in range(20):
        c = advect(c, hm.m, hm.fx, hm.fy, hm.fz, dt_s, np.zeros((7, 8)), reverse=i % 2 == 1)
        assert c.min() >= 0.0  # before any clipping: the limiter and the Courant limit guarantee it
