"""The mass-consistent wind adjustment: divergence removed, variational optimality, boundary conditions."""

import massconsistent as mc
import numpy as np
import pytest
from aqdomain import domain, surface

DZ = domain.layer_thickness()
NZ, NY, NX = domain.NLAYS, domain.NROWS, domain.NCOLS


@pytest.fixture
def rough_first_guess() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    u0 = rng.normal(5.0, 1.0, (NZ, NY, NX + 1))
    v0 = rng.normal(0.0, 1.0, (NZ, NY + 1, NX))
    w0 = rng.normal(0.0, 0.1, (NZ + 1, NY, NX))
    return u0, v0, w0


def terrain_first_guess() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A uniform 10 m/s westerly over the reference terrain, w = 0: it blows into the ridge."""
    h = surface.terrain()
    _, dhdx = np.gradient(h, domain.DY, domain.DX)
    u0 = np.full((NZ, NY, NX + 1), 10.0)
    v0 = np.zeros((NZ, NY + 1, NX))
    omega0 = np.broadcast_to(-10.0 * dhdx, (NZ + 1, NY, NX)).copy()
    return u0, v0, omega0


@pytest.mark.parametrize("alpha", [0.3, 1.0, 3.0])
def test_divergence_reduced_at_least_100_fold(
    rough_first_guess: tuple[np.ndarray, np.ndarray, np.ndarray], alpha: float
) -> None:
    res = mc.adjust(*rough_first_guess, domain.DX, domain.DY, DZ, alpha)
    assert res.max_div_before > 1e-3
    assert res.max_div_after <= res.max_div_before / 100.0
    # a direct solve: the remainder is rounding error
    assert res.max_div_after < 1e-12


def test_flow_over_the_ridge_made_non_divergent() -> None:
    res = mc.adjust(*terrain_first_guess(), domain.DX, domain.DY, DZ, 1.0)
    assert res.max_div_before > 1e-3
    assert res.max_div_after <= res.max_div_before / 100.0
    np.testing.assert_array_equal(res.omega[0], 0.0)  # no flow through the ground


def test_stable_weights_send_flow_around_not_over() -> None:
    """Small alpha = a1/a2 makes vertical adjustment costly: less vertical, more horizontal change."""
    stable = mc.adjust(*terrain_first_guess(), domain.DX, domain.DY, DZ, 0.1)
    neutral = mc.adjust(*terrain_first_guess(), domain.DX, domain.DY, DZ, 1.0)
    _, _, omega0 = terrain_first_guess()
    d_omega = lambda r: float(np.abs(r.omega[1:] - omega0[1:]).mean())  # noqa: E731
    assert d_omega(stable) < d_omega(neutral)
    assert float(np.abs(stable.v).mean()) > float(np.abs(neutral.v).mean())


def test_divergence_free_field_is_left_unchanged() -> None:
    u0 = np.full((NZ, NY, NX + 1), 7.0)
    v0 = np.full((NZ, NY + 1, NX), -2.0)
    w0 = np.zeros((NZ + 1, NY, NX))
    res = mc.adjust(u0, v0, w0, domain.DX, domain.DY, DZ, 1.0)
    np.testing.assert_allclose(res.u, u0, atol=1e-12)
    np.testing.assert_allclose(res.v, v0, atol=1e-12)
    np.testing.assert_allclose(res.omega, w0, atol=1e-12)


def test_solution_is_the_closest_divergence_free_field(
    rough_first_guess: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Variational optimality: the correction is orthogonal (in the weighted norm) to every
    divergence-free field, so no other divergence-free field is closer to the first guess."""
    alpha = 0.5
    u0, v0, w0 = rough_first_guess
    res = mc.adjust(u0, v0, w0, domain.DX, domain.DY, DZ, alpha)
    # another divergence-free field: the adjustment of an unrelated random field
    rng = np.random.default_rng(7)
    other = mc.adjust(
        rng.normal(size=u0.shape), rng.normal(size=v0.shape), rng.normal(size=w0.shape),
        domain.DX, domain.DY, DZ, alpha,
    )  # fmt: skip
    dzc = np.concatenate([0.5 * (DZ[1:] + DZ[:-1]), [0.5 * DZ[-1]]])  # volumes of the adjustable z faces
    inner = (
        np.sum((res.u - u0) * other.u * DZ[:, None, None])
        + np.sum((res.v - v0) * other.v * DZ[:, None, None])
        + np.sum((res.omega[1:] - w0[1:]) * other.omega[1:] * dzc[:, None, None]) / alpha**2
    )
    scale = np.sqrt(np.sum((res.u - u0) ** 2)) * np.sqrt(np.sum(other.u**2))
    assert abs(inner) < 1e-10 * scale

    def cost(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
        return float(
            np.sum((u - u0) ** 2 * DZ[:, None, None])
            + np.sum((v - v0) ** 2 * DZ[:, None, None])
            + np.sum((w[1:] - w0[1:]) ** 2 * dzc[:, None, None]) / alpha**2
        )

    best = cost(res.u, res.v, res.omega)
    for eps in (1e-3, -1e-3, 0.1):
        assert cost(res.u + eps * other.u, res.v + eps * other.v, res.omega + eps * other.omega) > best


def test_multiplier_solves_the_discrete_elliptic_equation() -> None:
    rng = np.random.default_rng(3)
    rhs = rng.normal(size=(NZ, NY, NX))
    alpha = 0.7
    phi = mc.solve_multiplier(rhs, domain.DX, domain.DY, DZ, alpha)
    pad = np.pad(phi, ((0, 0), (1, 1), (1, 1)))
    lap = (pad[:, 1:-1, 2:] - 2 * phi + pad[:, 1:-1, :-2]) / domain.DX**2
    lap += (pad[:, 2:, 1:-1] - 2 * phi + pad[:, :-2, 1:-1]) / domain.DY**2
    lo, diag, up = mc._vertical_operator(DZ)
    vert = diag[:, None, None] * phi
    vert[1:] += lo[1:, None, None] * phi[:-1]
    vert[:-1] += up[:-1, None, None] * phi[1:]
    np.testing.assert_allclose(lap + alpha**2 * vert, -rhs, rtol=1e-9, atol=1e-9 * np.abs(rhs).max())


def test_dst_matrix_orthonormal() -> None:
    s = mc._dst_matrix(48)
    np.testing.assert_allclose(s @ s, np.eye(48), atol=1e-12)
