"""Mass-consistent wind adjustment over terrain (Sherman 1978, the variational method of Sasaki).

Minimise  E = sum over the grid of  a1^2 [(u - u0)^2 + (v - v0)^2] + a2^2 (omega - omega0)^2
subject to the discrete continuity equation  du/dx + dv/dy + d(omega)/dz* = 0.

The grid is terrain-following with fixed layer thicknesses above ground (z* = z - h(x, y)); for
this pure shift of the vertical coordinate the Jacobian is 1, so continuity keeps its Cartesian
flux form with the contravariant vertical velocity omega = w - u dh/dx - v dh/dy. Penalising omega
rather than w (the usual simplification on terrain-following grids; exact over flat ground) makes the
operator separable with constant coefficients. Map factors (0.97 here) are ignored.

Arakawa C grid: u on x faces (NZ, NY, NX+1), v on y faces (NZ, NY+1, NX), omega on z faces
(NZ+1, NY, NX), the Lagrange multiplier lambda at cell centres. The Euler-Lagrange equations give
u = u0 + 1/(2 a1^2) dlambda/dx, v likewise, omega = omega0 + 1/(2 a2^2) dlambda/dz, and continuity gives
the elliptic equation

    d2phi/dx2 + d2phi/dy2 + alpha^2 d2phi/dz2 = -div0,   alpha = a1 / a2,  phi = lambda / (2 a1^2),

with boundary conditions from the boundary term of the variation: phi = 0 on the open lateral
boundaries (one cell outside the grid) and at the model top (flow through them may adjust);
dphi/dn = 0 at the ground, where the normal velocity is prescribed (omega = 0: no flow into terrain).

Solver (direct, numpy only): a discrete sine transform (DST-I, as dense orthonormal matrices)
diagonalises the horizontal second differences; each horizontal mode leaves a tridiagonal system in
the vertical (non-uniform layers), solved by the Thomas algorithm vectorised over the modes. Because
the discrete gradient is the negative adjoint of the discrete divergence, the adjusted field's
divergence is zero to rounding error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Adjusted:
    u: np.ndarray  # (NZ, NY, NX+1)
    v: np.ndarray  # (NZ, NY+1, NX)
    omega: np.ndarray  # (NZ+1, NY, NX)
    max_div_before: float  # s-1
    max_div_after: float


def divergence(
    u: np.ndarray, v: np.ndarray, omega: np.ndarray, dx: float, dy: float, dz: np.ndarray
) -> np.ndarray:
    """Discrete 3-D divergence (s-1) at cell centres, shape (NZ, NY, NX)."""
    return (
        (u[:, :, 1:] - u[:, :, :-1]) / dx
        + (v[:, 1:, :] - v[:, :-1, :]) / dy
        + (omega[1:] - omega[:-1]) / dz[:, None, None]
    )


def _dst_matrix(n: int) -> np.ndarray:
    """Orthonormal DST-I matrix S (symmetric, S @ S = I); columns are the Dirichlet eigenvectors."""
    k = np.arange(1, n + 1)
    return np.sqrt(2.0 / (n + 1)) * np.sin(np.pi * np.outer(k, k) / (n + 1))


def _dirichlet_eigenvalues(n: int, h: float) -> np.ndarray:
    """Eigenvalues of the (1, -2, 1)/h^2 operator with zero values one cell beyond both ends."""
    k = np.arange(1, n + 1)
    return -4.0 / h**2 * np.sin(np.pi * k / (2 * (n + 1))) ** 2


def _vertical_operator(dz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tridiagonal (lower, diagonal, upper) of d2/dz2 on layers dz: Neumann below, phi = 0 at the top face."""
    nz = len(dz)
    dzc = 0.5 * (dz[1:] + dz[:-1])  # centre-to-centre distances
    up = np.zeros(nz)  # coefficient of phi[k+1]
    lo = np.zeros(nz)  # coefficient of phi[k-1]
    up[:-1] = 1.0 / (dz[:-1] * dzc)
    lo[1:] = 1.0 / (dz[1:] * dzc)
    diag = -(up + lo)
    diag[-1] -= 1.0 / (dz[-1] * 0.5 * dz[-1])  # top face at half a layer above the last centre
    return lo, diag, up


def solve_multiplier(div0: np.ndarray, dx: float, dy: float, dz: np.ndarray, alpha: float) -> np.ndarray:
    """phi solving  Dxx phi + Dyy phi + alpha^2 Dzz phi = -div0  (the boundary conditions above)."""
    nz, ny, nx = div0.shape
    sx, sy = _dst_matrix(nx), _dst_matrix(ny)
    mu = _dirichlet_eigenvalues(ny, dy)[:, None] + _dirichlet_eigenvalues(nx, dx)[None, :]  # (NY, NX)
    rhs = sy @ (-div0) @ sx  # horizontal transform of every layer
    lo, diag, up = _vertical_operator(dz)
    a2 = alpha * alpha
    # Thomas algorithm, vectorised over the NY x NX horizontal modes
    b = a2 * diag[:, None, None] + mu[None]
    c = np.empty_like(b)
    d = np.empty_like(rhs)
    c[0] = a2 * up[0] / b[0]
    d[0] = rhs[0] / b[0]
    for k in range(1, nz):
        denom = b[k] - a2 * lo[k] * c[k - 1]
        c[k] = a2 * up[k] / denom
        d[k] = (rhs[k] - a2 * lo[k] * d[k - 1]) / denom
    phi_hat = np.empty_like(rhs)
    phi_hat[-1] = d[-1]
    for k in range(nz - 2, -1, -1):
        phi_hat[k] = d[k] - c[k] * phi_hat[k + 1]
    return sy @ phi_hat @ sx


def adjust(
    u0: np.ndarray,
    v0: np.ndarray,
    omega0: np.ndarray,
    dx: float,
    dy: float,
    dz: np.ndarray,
    alpha: float = 1.0,
) -> Adjusted:
    """The divergence-free field closest to the first guess (u0, v0, omega0) in the weighted norm.

    ``omega0[0]`` (the ground) is forced to 0 and never adjusted.
    """
    omega0 = omega0.copy()
    omega0[0] = 0.0
    div0 = divergence(u0, v0, omega0, dx, dy, dz)
    phi = solve_multiplier(div0, dx, dy, dz, alpha)
    nz = len(dz)
    # gradients with phi = 0 one cell outside laterally and at the top face
    pad_x = np.concatenate([np.zeros((nz, phi.shape[1], 1)), phi, np.zeros((nz, phi.shape[1], 1))], axis=2)
    pad_y = np.concatenate([np.zeros((nz, 1, phi.shape[2])), phi, np.zeros((nz, 1, phi.shape[2]))], axis=1)
    u = u0 + np.diff(pad_x, axis=2) / dx
    v = v0 + np.diff(pad_y, axis=1) / dy
    omega = omega0.copy()
    dzc = 0.5 * (dz[1:] + dz[:-1])
    omega[1:-1] += alpha**2 * (phi[1:] - phi[:-1]) / dzc[:, None, None]
    omega[-1] += alpha**2 * (0.0 - phi[-1]) / (0.5 * dz[-1])
    div1 = divergence(u, v, omega, dx, dy, dz)
    return Adjusted(
        u=u,
        v=v,
        omega=omega,
        max_div_before=float(np.abs(div0).max()),
        max_div_after=float(np.abs(div1).max()),
    )
