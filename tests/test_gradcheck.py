"""Tests of check_gradient."""

import numpy as np
import pytest

from skbackprop import check_gradient, cost_grad, init_params


def _quadratic(theta, A, b):
    return 0.5 * theta @ A @ theta - b @ theta, A @ theta - b


def _quadratic_problem(n=8):
    rng = np.random.default_rng(0)
    M = rng.normal(size=(n, n))
    return rng.normal(size=n), (M @ M.T + np.eye(n), rng.normal(size=n))


def _network_problem():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(25, 3)), np.eye(3)[rng.integers(0, 3, 25)]
    sizes = (3, 4, 3)
    theta = init_params(sizes, "tanh", random_state=0)
    return theta, (X, Y, sizes, "tanh", "log_loss", 0.5)


def test_exact_gradients_pass():
    theta, args = _quadratic_problem()
    assert check_gradient(_quadratic, theta, args) <= 1e-9
    theta, args = _network_problem()
    assert check_gradient(cost_grad, theta, args) <= 1e-8


def _scaled(theta, *args):
    J, D = cost_grad(theta, *args)
    return J, 1.1 * D


def _one_wrong_coordinate(theta, *args):
    J, D = cost_grad(theta, *args)
    D = D.copy()
    k = np.argmax(np.abs(D))
    D[k] = -D[k]
    return J, D


def _penalty_forgotten(theta, *args):
    # A classic bug: the cost is penalized, the gradient is not.
    J, _ = cost_grad(theta, *args)
    _, D = cost_grad(theta, *args[:-1], 0.0)
    return J, D


@pytest.mark.parametrize("fun", [_scaled, _one_wrong_coordinate, _penalty_forgotten])
def test_wrong_gradients_are_detected(fun):
    theta, args = _network_problem()
    theta = theta * 3  # penalty large enough for the forgotten one to matter
    assert check_gradient(fun, theta, args) > 1e-2


class _Recorder:
    """Wraps a function and records which coordinate each call perturbs."""

    def __init__(self, fun, theta):
        self.fun, self.theta, self.coords, self.calls = fun, theta.copy(), [], 0

    def __call__(self, theta, *args):
        self.calls += 1
        self.coords.extend(np.flatnonzero(theta != self.theta).tolist())
        return self.fun(theta, *args)


def test_n_coords_and_random_state(seed):
    theta, args = _network_problem()
    n = theta.size
    rec = _Recorder(cost_grad, theta)
    error = check_gradient(rec, theta, args, n_coords=5, random_state=seed)
    assert error <= 1e-8
    assert rec.calls == 1 + 2 * 5
    chosen = sorted(set(rec.coords))
    assert len(chosen) == 5 and all(0 <= k < n for k in chosen)

    # The same random_state checks the same coordinates, another one others.
    rec_same = _Recorder(cost_grad, theta)
    check_gradient(rec_same, theta, args, n_coords=5, random_state=seed)
    assert sorted(set(rec_same.coords)) == chosen
    rec_other = _Recorder(cost_grad, theta)
    check_gradient(rec_other, theta, args, n_coords=5, random_state=seed + 1)
    assert sorted(set(rec_other.coords)) != chosen

    # n_coords larger than the number of parameters checks every coordinate once.
    rec_all = _Recorder(cost_grad, theta)
    check_gradient(rec_all, theta, args, n_coords=10 * n, random_state=seed)
    assert rec_all.calls == 1 + 2 * n
    assert sorted(rec_all.coords) == sorted(2 * list(range(n)))


def test_n_coords_only_sees_the_checked_coordinates(seed):
    theta, args = _network_problem()
    rec = _Recorder(cost_grad, theta)
    check_gradient(rec, theta, args, n_coords=5, random_state=seed)
    chosen = sorted(set(rec.coords))
    unchecked = next(k for k in range(theta.size) if k not in chosen)

    def check_wrong_at(k):
        def fun(t, *a):
            J, D = cost_grad(t, *a)
            D = D.copy()
            D[k] += 1.0
            return J, D

        return check_gradient(fun, theta, args, n_coords=5, random_state=seed)

    assert check_wrong_at(chosen[0]) > 1e-2
    assert check_wrong_at(unchecked) < 1e-8


def test_input_untouched_and_float64():
    theta, args = _network_problem()
    theta32 = theta.astype(np.float32)
    before = theta32.copy()
    dtypes = []

    def fun(t, *a):
        dtypes.append(t.dtype)
        return cost_grad(t, *a)

    assert check_gradient(fun, theta32, args) <= 1e-8
    np.testing.assert_array_equal(theta32, before)
    assert set(dtypes) == {np.dtype(np.float64)}


def test_eps_controls_truncation_error():
    # For sum(t^3), central differences give 3 t^2 + h^2 with h = eps |t| (|t| >= 1):
    # a relative error of eps^2 / 3.
    def cubic(t):
        return np.sum(t**3), 3 * t**2

    theta = np.linspace(1.0, 2.0, 6)
    assert check_gradient(cubic, theta, eps=1e-2) == pytest.approx(1e-4 / 3, rel=1e-3)
    assert check_gradient(cubic, theta) < 1e-9
