"""Transport operators: flux-form advection, implicit vertical diffusion with dry deposition and emissions.

State: mixing ratios ``conc`` shaped (species, layer, row, col) in ppm; air in each cell as moles ``m``
(layer, row, col). Mass fluxes of air through cell faces (mol/s): ``fx`` (layer, row, col + 1),
``fy`` (layer, row + 1, col), ``fz`` (layer + 1, row, col), positive towards +x, +y, +z.

Advection (Easter 1993-style mass-consistent splitting): each 1-D sweep updates the air moles and the
tracer moles with the same face mass fluxes, m' = m - dt div(F), (m c)' = m c - dt div(F c_face), and
returns c' = (m c)' / m'. The vertical mass flux comes from the continuity equation (air moles per cell
constant within an hour), so after the three sweeps the air moles return to their starting values and a
uniform mixing ratio stays exactly uniform. The face value is the upwind value plus a van Leer (harmonic
mean) limited slope with the Lax-Wendroff factor (1 - Courant): second-order where smooth, monotone, and
positive whenever the outflow Courant number of a cell in one sweep is <= 0.5 (``COURANT_MAX`` keeps a
margin). Open boundaries take the boundary (background) value for inflow and the first-order upwind
value for outflow; ``periodic`` wraps (used by the conservation tests).

Vertical diffusion: backward Euler on d(rho c)/dt = d/dz (rho K dc/dz) with zero flux at the top and a
deposition flux -vd rho c at the ground, emissions as a source; one tridiagonal solve per column
(Thomas algorithm vectorised over all columns and species). It conserves sum(m c) exactly apart from
emissions and deposition, and is unconditionally stable and positive (an M-matrix).
"""

from __future__ import annotations

import numpy as np

COURANT_MAX = 0.45
VON_KARMAN = 0.4


def continuity_vertical_flux(fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
    """Vertical air mass flux (mol/s) at layer interfaces from horizontal convergence; zero at the ground."""
    net_out = (fx[..., 1:] - fx[..., :-1]) + (fy[:, 1:, :] - fy[:, :-1, :])
    nz, ny, nx = net_out.shape
    fz = np.zeros((nz + 1, ny, nx))
    fz[1:] = -np.cumsum(net_out, axis=0)
    return fz


def max_stable_step(m: np.ndarray, fx: np.ndarray, fy: np.ndarray, fz: np.ndarray) -> float:
    """Longest time step (s) keeping every sweep's outflow Courant number <= COURANT_MAX."""
    worst = 0.0
    for f, axis in ((fx, 2), (fy, 1), (fz, 0)):
        lo = np.take(f, np.arange(f.shape[axis] - 1), axis=axis)
        hi = np.take(f, np.arange(1, f.shape[axis]), axis=axis)
        out = np.maximum(hi, 0.0) + np.maximum(-lo, 0.0)
        worst = max(worst, float(np.max(out / m)))
    return float("inf") if worst == 0.0 else COURANT_MAX / worst


def _sweep(
    c: np.ndarray,
    m: np.ndarray,
    f: np.ndarray,
    dt: float,
    lo_bg: np.ndarray,
    hi_bg: np.ndarray,
    periodic: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """One 1-D advection sweep along the last axis. c (ns, ..., n); m (..., n); f (..., n + 1)."""
    n = c.shape[-1]
    if periodic:
        p = np.concatenate([c[..., -2:], c, c[..., :2]], axis=-1)
        mp = np.concatenate([m[..., -1:], m, m[..., :1]], axis=-1)
    else:
        lo = np.broadcast_to(lo_bg, c.shape[:-1])[..., None]
        hi = np.broadcast_to(hi_bg, c.shape[:-1])[..., None]
        p = np.concatenate([lo, lo, c, hi, hi], axis=-1)
        mp = np.concatenate([m[..., :1], m, m[..., -1:]], axis=-1)
    pos = f > 0.0
    # van Leer limited slope of every cell of p from its two one-sided differences (harmonic mean, 0 at
    # extrema): vl[k] belongs to p[k + 1]. A face with flow to +x takes its left cell's slope, a face
    # with flow to -x its right cell's (same value: the harmonic mean is symmetric).
    d = np.diff(p, axis=-1)
    prod = d[..., :-1] * d[..., 1:]
    ok = prod > 0.0
    vl = np.where(ok, 2.0 * prod / np.where(ok, d[..., :-1] + d[..., 1:], 1.0), 0.0)
    left, right = p[..., 1 : n + 2], p[..., 2 : n + 3]
    m_up = np.where(pos, mp[..., 0 : n + 1], mp[..., 1 : n + 2])
    half = 0.5 * (1.0 - np.abs(f) * dt / m_up)
    face = np.where(pos, left + half * vl[..., 0 : n + 1], right - half * vl[..., 1 : n + 2])
    if not periodic:  # first-order upwind at the open boundary faces (inflow: the boundary value)
        face[..., 0] = np.where(pos[..., 0], left[..., 0], right[..., 0])
        face[..., n] = np.where(pos[..., n], left[..., n], right[..., n])
    tracer_flux = f * face
    m_new = m - dt * (f[..., 1:] - f[..., :-1])
    q_new = m * c - dt * (tracer_flux[..., 1:] - tracer_flux[..., :-1])
    return q_new / m_new, m_new


def advect(
    conc: np.ndarray,
    m: np.ndarray,
    fx: np.ndarray,
    fy: np.ndarray,
    fz: np.ndarray,
    dt: float,
    boundary: np.ndarray,
    *,
    periodic: bool = False,
    reverse: bool = False,
) -> np.ndarray:
    """Advect ``conc`` (ns, nz, ny, nx) over dt; x, y, z sweeps (z, y, x when ``reverse``).

    ``boundary`` (ns, nz) holds the inflow mixing ratios of each layer (also used above the top).
    Returns the new concentrations; the air moles after the three sweeps equal ``m`` to rounding.
    """
    bg = boundary[:, :, None]  # (ns, nz, 1) broadcasts over the row (x sweep) or col (y sweep)
    top = boundary[:, -1][:, None, None]
    c = conc
    mm = m

    def sx(c: np.ndarray, mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _sweep(c, mm, fx, dt, bg, bg, periodic)

    def sy(c: np.ndarray, mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ct, mt = _sweep(c.swapaxes(-1, -2), mm.swapaxes(-1, -2), fy.swapaxes(-1, -2), dt, bg, bg, periodic)
        return ct.swapaxes(-1, -2), mt.swapaxes(-1, -2)

    def sz(c: np.ndarray, mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ct, mt = _sweep(
            np.moveaxis(c, 1, -1), np.moveaxis(mm, 0, -1), np.moveaxis(fz, 0, -1), dt, top, top, False
        )
        return np.moveaxis(ct, -1, 1), np.moveaxis(mt, -1, 0)

    order = (sz, sy, sx) if reverse else (sx, sy, sz)
    for sweep in order:
        c, mm = sweep(c, mm)
    return np.ascontiguousarray(c)


def eddy_diffusivity(
    z_interfaces: np.ndarray,
    pblh: np.ndarray,
    ustar: np.ndarray,
    wstar: np.ndarray,
    k_min: float = 0.1,
    k_max: float = 500.0,
) -> np.ndarray:
    """K (m2/s) at the internal interfaces, (nz - 1, ny, nx): K = kappa w_m z (1 - z/h)^2 inside the PBL.

    ``z_interfaces``: heights above ground of the layer interfaces, (nz + 1,) or per column (nz + 1, ny, nx).

    w_m = (u*^3 + 0.28 w*^3)^(1/3) (Holtslag & Boville 1993: 7 eps kappa with eps = 0.1); K_min above
    the PBL and as a floor; capped at k_max.
    """
    z = np.asarray(z_interfaces, dtype=np.float64)
    z = (z[:, None, None] if z.ndim == 1 else z)[1:-1]
    h = np.maximum(pblh, 1.0)[None]
    wm = np.cbrt(ustar**3 + 0.28 * wstar**3)[None]
    shape = np.where(z < h, z * (1.0 - z / h) ** 2, 0.0)
    return np.clip(VON_KARMAN * wm * shape, k_min, k_max)


def diffuse(
    conc: np.ndarray,
    m: np.ndarray,
    exch: np.ndarray,
    dep: np.ndarray,
    source: np.ndarray | None,
) -> None:
    """Backward-Euler vertical diffusion in place.

    conc (ns, nz, ny, nx); m air moles (nz, ny, nx); exch (nz - 1, ny, nx) = dt A rho K / dz_centres
    (mol), the exchange coefficient of each internal interface; dep (ns, ny, nx) = dt A rho_1 vd (mol),
    the deposition coefficient of the lowest layer; source (ns, nz, ny, nx) or None = dt x emission
    (micromoles, i.e. mol x ppm) added to each cell.
    """
    ns, nz = conc.shape[:2]
    lower = np.zeros((nz, *m.shape[1:]))
    upper = np.zeros_like(lower)
    lower[1:] = exch
    upper[:-1] = exch
    diag = np.broadcast_to(m + lower + upper, (ns, *m.shape)).copy()
    diag[:, 0] += dep
    rhs = m[None] * conc
    if source is not None:
        rhs = rhs + source
    # Thomas algorithm, forward elimination then back substitution, vectorised over (species, row, col)
    cp = np.empty_like(diag)
    dp = np.empty_like(diag)
    cp[:, 0] = -upper[0] / diag[:, 0]
    dp[:, 0] = rhs[:, 0] / diag[:, 0]
    for k in range(1, nz):
        den = diag[:, k] + lower[k] * cp[:, k - 1]
        cp[:, k] = -upper[k] / den
        dp[:, k] = (rhs[:, k] + lower[k] * dp[:, k - 1]) / den
    conc[:, nz - 1] = dp[:, nz - 1]
    for k in range(nz - 2, -1, -1):
        conc[:, k] = dp[:, k] - cp[:, k] * conc[:, k + 1]
