"""Monotonic constraints: the bounds, the solvers that keep them, the guarantee."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skbackprop import BackpropClassifier, BackpropRegressor, n_params
from skbackprop._engine.monotone import monotone_bounds, reflect
from skbackprop._training import solvers
from skbackprop._training.bounds import project

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.uniform(-2, 2, size=(150, 4))
# Increasing in x0, decreasing in x1, not monotone in x2 and x3: a fit without
# constraints is not monotone in x0 or x1 (the wiggles), one with them must be.
F = (
    X[:, 0]
    + 0.6 * np.sin(3 * X[:, 0])
    - X[:, 1]
    - 0.6 * np.sin(3 * X[:, 1])
    + np.sin(2 * X[:, 2])
    + 0.5 * X[:, 3] ** 2
)
Y_REG = F + 0.1 * RNG.normal(size=150)
Y_BIN = (F + 0.3 * RNG.normal(size=150) > 0).astype(int)
CST = [1, -1, 0, 0]


def _lines(cst, n_lines=200, n_points=40, seed=1):
    """Points on random lines along which a prediction monotone under ``cst``
    must be nondecreasing: axis-parallel lines along each constrained feature
    (reversed for -1), and lines in random directions whose components have
    the constraints' signs (zero on unconstrained features).  Shape
    ``(n_lines, n_points, n_features)``, points in order along each line."""
    rng = np.random.default_rng(seed)
    cst = np.asarray(cst)
    starts = rng.uniform(-3, 3, size=(n_lines, len(cst)))
    directions = np.zeros((n_lines, len(cst)))
    constrained = np.flatnonzero(cst)
    half = n_lines // 2
    axis = constrained[np.arange(half) % len(constrained)]
    directions[np.arange(half), axis] = cst[axis]
    directions[half:, constrained] = cst[constrained] * rng.uniform(
        0, 1, size=(n_lines - half, len(constrained))
    )
    t = np.linspace(0, 6, n_points)
    return starts[:, None, :] + t[None, :, None] * directions[:, None, :]


def _increments(predict, cst):
    """Differences of the predictions between consecutive points of each line."""
    lines = _lines(cst)
    P = predict(lines.reshape(-1, lines.shape[-1]))
    P = P.reshape(lines.shape[0], lines.shape[1], -1)
    return np.diff(P, axis=1)


def assert_monotone(predict, cst):
    # Rounding of the forward pass only: far below any real decrease.
    assert _increments(predict, cst).min() >= -1e-12


def _proba(est):
    return lambda X: est.predict_proba(X)[:, 1:]


def _assert_bounds(est, cst):
    W1, *later = est.coefs_
    cst = np.asarray(cst)
    assert (W1[cst > 0] >= 0).all() and (W1[cst < 0] <= 0).all()
    assert all((W >= 0).all() for W in later)


# -- the guarantee ------------------------------------------------------------------
def test_unconstrained_fits_are_not_monotone_here(seed):
    # Without this, the tests below would prove nothing.
    est = BackpropRegressor(
        (16,), "tanh", max_iter=300, alpha=1e-4, random_state=seed
    ).fit(X, Y_REG)
    assert _increments(est.predict, CST).min() < -0.05


@pytest.mark.parametrize(
    "hidden, activation",
    [
        ((), "relu"),
        ((12,), "tanh"),
        ((12,), "relu"),
        ((8, 6), "logistic"),
        ((8, 6), ["softplus", "elu"]),
        ((8, 6, 4), ["leaky_relu", "tanh", "identity"]),
    ],
)
def test_regressor_is_monotone_on_random_lines(hidden, activation, seed):
    est = BackpropRegressor(
        hidden, activation, monotonic_cst=CST, max_iter=200, random_state=seed
    ).fit(X, Y_REG)
    _assert_bounds(est, CST)
    assert_monotone(est.predict, CST)
    assert est.score(X, Y_REG) > 0.5  # a fit, not a constant


@pytest.mark.parametrize("solver", solvers.names(lambda s: s.bounds))
def test_every_bounded_solver_keeps_the_constraints(solver, seed):
    params = {"max_iter": 40, "random_state": seed}
    if solver == "gd":
        params.update(learning_rate_init=0.05, momentum=0.9)
    est = BackpropClassifier(
        (6,), "tanh", solver=solver, monotonic_cst=CST, **params
    ).fit(X, Y_BIN)
    _assert_bounds(est, CST)
    assert_monotone(_proba(est), CST)


def test_mini_batch_and_partial_fit_keep_the_constraints(seed):
    est = BackpropRegressor(
        (6, 4),
        "elu",
        solver="gd",
        batch_size=16,
        momentum=0.9,
        learning_rate_init=0.01,
        monotonic_cst=CST,
        max_iter=20,
        random_state=seed,
    )
    est.partial_fit(X, Y_REG).partial_fit(X, Y_REG)
    _assert_bounds(est, CST)
    est.fit(X, Y_REG)
    _assert_bounds(est, CST)
    assert_monotone(est.predict, CST)


def test_poisson_multioutput_and_multilabel_are_monotone(seed):
    counts = RNG.poisson(np.exp(0.3 * np.clip(F, -3, 3)))
    poisson = BackpropRegressor(
        (6,), "tanh", loss="poisson", monotonic_cst=CST, random_state=seed
    ).fit(X, counts)
    assert_monotone(poisson.predict, CST)
    two = BackpropRegressor((6,), "tanh", monotonic_cst=CST, random_state=seed)
    two.fit(X, np.c_[Y_REG, 2 * F])
    assert_monotone(two.predict, CST)
    labels = np.c_[Y_BIN, F > 1]
    multilabel = BackpropClassifier((6,), monotonic_cst=CST, random_state=seed)
    multilabel.fit(X, labels)
    assert_monotone(multilabel.predict_proba, CST)


def test_constraints_by_feature_name_equal_the_array(seed):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    kw = {"hidden_layer_sizes": (5,), "max_iter": 30, "random_state": seed}
    by_name = BackpropRegressor(monotonic_cst={"b": -1, "a": 1}, **kw)
    by_index = BackpropRegressor(monotonic_cst=CST, **kw)
    by_name.fit(frame, Y_REG)
    by_index.fit(X, Y_REG)
    np.testing.assert_array_equal(by_name.coefs_[0], by_index.coefs_[0])


def test_no_constraint_is_the_unconstrained_fit(seed):
    kw = {"hidden_layer_sizes": (5,), "max_iter": 30, "random_state": seed}
    free = BackpropRegressor(**kw).fit(X, Y_REG)
    zeros = BackpropRegressor(monotonic_cst=[0, 0, 0, 0], **kw).fit(X, Y_REG)
    np.testing.assert_array_equal(zeros.coefs_[0], free.coefs_[0])
    # CG ignores bounds, but there are none to honour.
    BackpropRegressor(solver="CG", monotonic_cst=[0] * 4, **kw).fit(X, Y_REG)


def test_warm_start_from_an_unconstrained_fit(seed):
    est = BackpropRegressor((6,), "tanh", warm_start=True, random_state=seed)
    est.fit(X, Y_REG)
    est.set_params(monotonic_cst=CST).fit(X, Y_REG)
    _assert_bounds(est, CST)
    assert_monotone(est.predict, CST)


# -- refusals -----------------------------------------------------------------------
BAD = [
    ("gelu", {"activation": "gelu"}, "not monotone"),
    ("silu-in-a-list", {"activation": ["tanh", "silu"]}, r"\['silu'\] are not"),
    ("cg", {"solver": "CG"}, "solver that honours bounds.*'CG'"),
    ("newton-cg", {"solver": "newton-cg"}, "solver that honours bounds"),
    ("callable", {"solver": lambda *a, **k: None}, "solver that honours bounds"),
    ("length", {"monotonic_cst": [1, 0]}, "monotonic_cst has shape"),
    ("values", {"monotonic_cst": [2, 0, 0, 0]}, "array-like of -1, 0 or 1"),
    ("names-without-names", {"monotonic_cst": {"a": 1}}, "without feature names"),
]


@pytest.mark.parametrize("params, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_constraints_fail_clearly_and_keep_the_fitted_state(params, match, seed):
    est = BackpropClassifier((3, 2), random_state=seed, max_iter=5).fit(X, Y_BIN)
    before = pickle.dumps(est)
    est.set_params(**{"monotonic_cst": CST, **params})
    with pytest.raises(ValueError, match=match):
        est.fit(X, Y_BIN)
    est.set_params(monotonic_cst=None, activation="relu", solver="L-BFGS-B")
    assert pickle.dumps(est) == before


def test_multiclass_is_refused():
    est = BackpropClassifier((3,), monotonic_cst=CST)
    with pytest.raises(ValueError, match="not supported for multiclass"):
        est.fit(X, np.digitize(F, [-1, 1]))
    assert not hasattr(est, "coefs_")


def test_unknown_feature_name_is_refused():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    est = BackpropRegressor((3,), monotonic_cst={"a": 1, "zz": -1})
    with pytest.raises(ValueError, match=r"unexpected feature names: \['zz'\]"):
        est.fit(frame, Y_REG)


# -- the parts ----------------------------------------------------------------------
def test_monotone_bounds_layout():
    sizes = (3, 4, 2, 1)
    lower, upper = monotone_bounds(sizes, [1, 0, -1])
    assert lower.shape == upper.shape == (n_params(sizes),)
    W1_lower = lower[:12].reshape(3, 4)
    W1_upper = upper[:12].reshape(3, 4)
    assert (W1_lower[0] == 0).all() and (W1_upper[0] == np.inf).all()
    assert (W1_lower[1] == -np.inf).all() and (W1_upper[1] == np.inf).all()
    assert (W1_lower[2] == -np.inf).all() and (W1_upper[2] == 0).all()
    later = slice(12, 12 + 8 + 2)
    assert (lower[later] == 0).all() and (upper[later] == np.inf).all()
    biases = slice(22, None)
    assert (lower[biases] == -np.inf).all() and (upper[biases] == np.inf).all()
    assert monotone_bounds(sizes, [0, 0, 0]) is None
    with pytest.raises(ValueError, match="one entry per input feature"):
        monotone_bounds(sizes, [1, 0])


def test_reflect_and_project():
    bounds = monotone_bounds((2, 2, 1), [1, -1])
    theta = np.array([-1.0, 2.0, 3.0, -4.0, -5.0, 6.0, -7.0, 8.0, 9.0])
    reflected = reflect(theta.copy(), bounds)
    np.testing.assert_array_equal(
        reflected, [1.0, 2.0, -3.0, -4.0, 5.0, 6.0, -7.0, 8.0, 9.0]
    )
    projected = theta.copy()
    assert project(projected, bounds)
    np.testing.assert_array_equal(
        projected, [0.0, 2.0, 0.0, -4.0, 0.0, 6.0, -7.0, 8.0, 9.0]
    )
    assert not project(projected, bounds)
    theta32 = theta.astype(np.float32)
    assert project(theta32, bounds) and theta32.dtype == np.float32


def test_no_warning_beyond_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        BackpropRegressor((4,), monotonic_cst=CST, solver="SLSQP", max_iter=5).fit(
            X, Y_REG
        )
