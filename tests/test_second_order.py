"""Estimator-level tests of the Newton-type solvers and their curvature products.

The engine-level products (``H v`` against finite differences, ``G v``
positive semi-definite) are tested in ``test_hessian.py``; here we check what
the estimators hand to SciPy: the ``hessp`` a Newton-type method receives is
exactly :func:`hessian_vector_product` or :func:`gauss_newton_vector_product`
on the estimator's own encoded data, weights and penalty, it is evaluated no
more often than SciPy asks for it, and fits with it reach a low loss.
"""

import warnings

import numpy as np
import pytest
import scipy.optimize
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

import skbackprop._training.objective
import skbackprop._training.solvers.minimize
from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    cost_grad,
    gauss_newton_vector_product,
    hessian_vector_product,
    pack_params,
)
from skbackprop._training.objective import InMemoryObjective

NEWTON_SOLVERS = ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr"]
CURVATURES = ["exact", "gauss-newton"]
PRODUCTS = {
    "exact": hessian_vector_product,
    "gauss-newton": gauss_newton_vector_product,
}
KINDS = ["multiclass", "binary", "regression"]
# From initial losses of about 0.73 and 0.65, L-BFGS-B reaches 0.008 and
# 0.014 in 40 iterations on these problems; every Newton-type solver reaches
# these bounds in as many iterations, most of them 0.005 or less.
LOW_LOSS = {"multiclass": 0.03, "regression": 0.015}


def _problem(kind, n_samples=90, seed=0):
    """Scaled ``X`` and raw targets ``y`` of a small problem."""
    if kind == "regression":
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n_samples, 4))
        y = np.column_stack(
            [np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.tanh(X[:, 3] - X[:, 0])]
        )
        y += 0.05 * rng.normal(size=y.shape)
    else:
        X, y = make_classification(
            n_samples=n_samples,
            n_features=5,
            n_informative=4,
            n_redundant=0,
            n_classes=3 if kind == "multiclass" else 2,
            class_sep=1.5,
            random_state=seed,
        )
    return StandardScaler().fit_transform(X), y


def _estimator(kind, **params):
    params = {
        "hidden_layer_sizes": (6,),
        "activation": "tanh",
        "alpha": 1e-3,
        "random_state": 0,
        **params,
    }
    if kind == "regression":
        return BackpropRegressor(**params)
    return BackpropClassifier(**params)


def _encoded(est, kind, X, y, sample_weight=None):
    """``(Y, loss, sizes, sample_weight)`` as the fitted ``est`` trains on them."""
    if kind == "regression":
        Y, loss = np.asarray(y, dtype=X.dtype).reshape(len(y), -1), est.loss
    else:
        binarizer = LabelBinarizer().fit(y)
        Y = binarizer.transform(y).astype(X.dtype)
        loss = "log_loss" if kind == "multiclass" else "binary_log_loss"
        if est.class_weight is not None:
            cw = compute_sample_weight(est.class_weight, y)
            sample_weight = cw if sample_weight is None else sample_weight * cw
    sizes = (X.shape[1], *est.hidden_layer_sizes, Y.shape[1])
    return Y, loss, sizes, sample_weight


def _theta(est):
    return pack_params(est.coefs_, est.intercepts_).astype(np.float64)


class _Spy:
    """Replaces SciPy's ``minimize`` in the bridge: records and counts calls.

    ``kwargs`` holds what the estimator handed SciPy; ``n_fun`` and
    ``n_hessp`` count SciPy's calls of the objective and of ``hessp``.
    """

    def __init__(self, monkeypatch):
        self.real = scipy.optimize.minimize
        self.calls = []
        self.n_fun = self.n_hessp = 0
        monkeypatch.setattr(skbackprop._training.solvers.minimize, "minimize", self)

    def __call__(self, fun, x0, **kwargs):
        self.calls.append({"x0": np.array(x0, copy=True), **kwargs})
        hessp = kwargs.get("hessp")

        def counted_fun(theta):
            self.n_fun += 1
            return fun(theta)

        if hessp is not None:

            def counted_hessp(theta, v):
                self.n_hessp += 1
                return hessp(theta, v)

            kwargs["hessp"] = counted_hessp
        self.result = self.real(counted_fun, x0, **kwargs)
        return self.result


# -- fits ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
@pytest.mark.parametrize("curvature", CURVATURES)
@pytest.mark.parametrize("solver", NEWTON_SOLVERS)
def test_newton_solvers_reach_a_low_loss(solver, curvature, kind):
    X, y = _problem(kind)
    est = _estimator(kind, solver=solver, curvature=curvature, max_iter=40)
    est.fit(X, y)
    assert est.loss_ < LOW_LOSS[kind]
    assert est.n_iter_ == len(est.loss_curve_) > 0
    # Trust-region steps and Newton-CG's line search only accept decreases.
    assert np.all(np.diff(est.loss_curve_) <= 1e-12)
    Y, loss, sizes, _ = _encoded(est, kind, X, y)
    J = cost_grad(_theta(est), X, Y, sizes, "tanh", loss, est.alpha)[0]
    assert est.loss_ == pytest.approx(J, rel=1e-12)
    assert est.score(X, y) > 0.9


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("curvature", CURVATURES)
@pytest.mark.parametrize("solver", NEWTON_SOLVERS)
def test_hessp_given_to_scipy_is_the_exact_product(
    monkeypatch, solver, curvature, kind, seed
):
    X, y = _problem(kind, n_samples=40)
    rng = np.random.default_rng(seed + 1)
    sample_weight = rng.uniform(0.2, 3.0, size=X.shape[0])
    params = {"class_weight": "balanced"} if kind == "binary" else {}
    est = _estimator(
        kind, solver=solver, curvature=curvature, alpha=0.7, max_iter=3, **params
    )
    spy = _Spy(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, sample_weight=sample_weight)
    (call,) = spy.calls
    assert call["method"] == solver
    assert call["jac"] is True
    Y, loss, sizes, sw = _encoded(est, kind, X, y, sample_weight)
    args = (X, Y, sizes, "tanh", loss, est.alpha, sw)
    reference = PRODUCTS[curvature]
    other = PRODUCTS["gauss-newton" if curvature == "exact" else "exact"]
    for theta in (call["x0"], _theta(est)):
        for k in range(3):
            v = np.random.default_rng(k).normal(size=theta.size)
            Hv = call["hessp"](theta, v)
            assert Hv.dtype == np.float64
            np.testing.assert_allclose(
                Hv, reference(theta, v, *args), rtol=1e-12, atol=1e-14
            )
            # Not trivially equal: the other curvature differs.
            assert not np.allclose(Hv, other(theta, v, *args), rtol=1e-6)


@pytest.mark.parametrize("curvature", CURVATURES)
def test_callable_solver_receives_hessp(curvature, seed):
    # A custom minimizer in SciPy's protocol gets the curvature products too.
    X, y = _problem("multiclass", n_samples=50)
    received = {}

    def newton(fun, x0, args=(), jac=None, hessp=None, callback=None, **options):
        received.update(x0=np.array(x0, copy=True), hessp=hessp, options=options)
        return scipy.optimize.minimize(
            fun,
            x0,
            args=args,
            jac=jac,
            hessp=hessp,
            method="trust-ncg",
            callback=callback,
            options={"maxiter": options["maxiter"]},
        )

    est = _estimator("multiclass", solver=newton, curvature=curvature, max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert received["options"]["maxiter"] == 60
    assert est.loss_ < 0.1
    assert est.n_iter_ == len(est.loss_curve_)
    Y, loss, sizes, _ = _encoded(est, "multiclass", X, y)
    theta = received["x0"]
    v = np.random.default_rng(seed).normal(size=theta.size)
    np.testing.assert_allclose(
        received["hessp"](theta, v),
        PRODUCTS[curvature](theta, v, X, Y, sizes, "tanh", loss, est.alpha),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
@pytest.mark.parametrize("curvature", CURVATURES)
@pytest.mark.parametrize("solver", NEWTON_SOLVERS)
def test_float32(monkeypatch, solver, curvature, kind, seed):
    X, y = _problem(kind)
    X32 = X.astype(np.float32)
    spy = _Spy(monkeypatch)
    est = _estimator(kind, solver=solver, curvature=curvature, max_iter=40)
    est.fit(X32, y)
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    assert est.loss_ < LOW_LOSS[kind]
    # The products are computed in float32 and handed to SciPy in float64.
    Y, loss, sizes, _ = _encoded(est, kind, X32, y)
    theta = _theta(est)
    v = np.random.default_rng(seed).normal(size=theta.size)
    Hv = spy.calls[0]["hessp"](theta, v)
    assert Hv.dtype == np.float64
    ref32 = PRODUCTS[curvature](theta, v, X32, Y, sizes, "tanh", loss, est.alpha)
    assert ref32.dtype == np.float32
    np.testing.assert_allclose(Hv, ref32, rtol=1e-6, atol=1e-7)
    ref64 = PRODUCTS[curvature](
        theta, v, X, Y.astype(np.float64), sizes, "tanh", loss, est.alpha
    )
    assert np.linalg.norm(Hv - ref64) <= 1e-4 * np.linalg.norm(ref64)


# -- cost ------------------------------------------------------------------


@pytest.mark.parametrize("curvature", CURVATURES)
@pytest.mark.parametrize("solver", ["Newton-CG", "trust-ncg", "trust-krylov"])
def test_no_hidden_evaluations(monkeypatch, solver, curvature):
    """Every backprop and R-operator pass is one SciPy asked for.

    A Newton iteration then costs its hessp calls (each one forward and one
    backward pass, like a gradient) plus its cost/gradient evaluations.
    """
    X, y = _problem("multiclass")
    passes = {"cost_grad": 0, "hessp": 0}
    real_cost_grad = InMemoryObjective.cost_grad
    real_hessp = InMemoryObjective.hessp

    def cost_grad_counted(self, theta):
        passes["cost_grad"] += 1
        return real_cost_grad(self, theta)

    def hessp_counted(self, theta, v, curvature):
        passes["hessp"] += 1
        return real_hessp(self, theta, v, curvature)

    monkeypatch.setattr(InMemoryObjective, "cost_grad", cost_grad_counted)
    monkeypatch.setattr(InMemoryObjective, "hessp", hessp_counted)
    spy = _Spy(monkeypatch)
    est = _estimator("multiclass", solver=solver, curvature=curvature, max_iter=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    res = spy.result
    assert passes["cost_grad"] == spy.n_fun == res.nfev
    assert passes["hessp"] == spy.n_hessp
    # SciPy's trust-region methods report one product more than they make.
    assert res.nhev - 1 <= spy.n_hessp <= res.nhev
    # Each Newton iteration uses curvature, at most one product per
    # parameter (the CG/Lanczos inner loop is bounded by the dimension).
    n_params = _theta(est).size
    assert res.nit <= passes["hessp"] <= res.nit * n_params
    assert passes["cost_grad"] <= 2 * res.nit + 2


@pytest.mark.parametrize("solver", NEWTON_SOLVERS)
def test_callback_stops_at_a_target_loss(solver):
    # How the benchmark measures the time to reach a training loss.
    X, y = _problem("regression")
    target = 0.05
    seen = []

    def stop_at_target(state):
        seen.append(state.fun)
        return state.fun <= target

    est = _estimator("regression", solver=solver, callback=stop_at_target)
    est.fit(X, y)
    assert seen[-1] <= target < min(seen[:-1])
    assert est.loss_ == pytest.approx(seen[-1], rel=1e-12)
    assert est.n_iter_ == len(seen)
    assert est.optimize_result_ is None


@pytest.mark.parametrize("solver", ["L-BFGS-B", "CG", "gd"])
def test_gauss_newton_needs_a_newton_solver(solver):
    X, y = _problem("regression", n_samples=20)
    est = _estimator("regression", solver=solver, curvature="gauss-newton")
    with pytest.raises(ValueError, match="curvature='gauss-newton' needs a solver"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
