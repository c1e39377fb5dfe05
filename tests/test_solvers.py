"""The solvers as the estimators use them: SciPy's methods and gradient descent.

Every SciPy method the ``solver`` parameter accepts, a custom minimizer,
``solver_options``, the ``max_iter``/``tol`` mapping and the curvature
products; then gradient descent: batches, step-size schedules, momentum (and
:class:`~skbackprop._training.solvers.gd.GradientDescent` against hand-computed steps),
early stopping, ``partial_fit``, ``warm_start``, warnings, ``verbose`` and the
callback.
"""

import re
import warnings

import numpy as np
import pytest
from scipy.optimize import OptimizeResult
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    cost_grad,
    init_params,
    pack_params,
)
from skbackprop._training.objective import InMemoryObjective as _Objective
from skbackprop._training.solvers.gd import GradientDescent

X, y = make_classification(
    n_samples=80,
    n_features=4,
    n_informative=3,
    n_redundant=0,
    n_classes=3,
    n_clusters_per_class=1,
    random_state=0,
)
X = StandardScaler().fit_transform(X)
Y = np.eye(3)[y]  # one-hot targets, the encoding of cost_grad's "log_loss"
Xr, yr = make_regression(n_samples=60, n_features=3, noise=0.1, random_state=0)
Xr = StandardScaler().fit_transform(Xr)
yr = (yr - yr.mean()) / yr.std()

# alpha is that of full_cost (and scikit-learn's), not the estimators' default.
SMALL = {"hidden_layer_sizes": (6,), "random_state": 0, "alpha": 1e-4}


def _x0(fun, x0, args=(), **kwargs):
    """A custom minimizer that returns its starting point."""
    return OptimizeResult(x=x0, fun=fun(x0, *args), nit=0, success=True)


def initial_loss(est, X, y):
    """The cost at ``est``'s initial parameters (the same random_state)."""
    return clone(est).set_params(solver=_x0, curvature="exact").fit(X, y).loss_


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def flat(est):
    return pack_params(est.coefs_, est.intercepts_)


def full_cost(theta, alpha=1e-4, hidden=(6,), activation="relu"):
    """The classifier's cost J on (X, y) at flat parameters ``theta``."""
    sizes = (X.shape[1], *hidden, 3)
    return cost_grad(theta, X, Y, sizes, activation, "log_loss", alpha)[0]


# -- SciPy methods -------------------------------------------------------------

CANONICAL_METHODS = [
    "L-BFGS-B",
    "CG",
    "BFGS",
    "TNC",
    "SLSQP",
    "Newton-CG",
    "trust-ncg",
    "trust-krylov",
    "trust-constr",
]
GRADIENT_METHODS = [*CANONICAL_METHODS, "l-bfgs-b", "newton-cg", "trust-ncg", "lbfgs"]


@pytest.mark.parametrize("solver", GRADIENT_METHODS)
def test_scipy_method_reduces_the_loss(solver):
    est = BackpropClassifier(solver=solver, max_iter=30, **SMALL)
    J0 = initial_loss(est, X, y)
    quiet_fit(est, X, y)
    assert est.loss_ < 0.5 * J0
    assert isinstance(est.optimize_result_, OptimizeResult)
    assert est.optimize_result_.fun == pytest.approx(est.loss_, rel=1e-6)
    assert 1 <= est.n_iter_ <= 30
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_curve_[-1] == pytest.approx(est.loss_, rel=1e-6)
    assert est.score(X, y) > 0.8


@pytest.mark.parametrize("solver", ["Nelder-Mead", "Powell", "nelder-mead"])
def test_derivative_free_method_on_a_tiny_network(solver, seed):
    est = BackpropClassifier(hidden_layer_sizes=(2,), solver=solver, max_iter=2)
    est.set_params(random_state=seed)
    J0 = initial_loss(est, X, y)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        est.fit(X, y)
    assert est.loss_ < J0
    assert isinstance(est.optimize_result_, OptimizeResult)
    assert est.n_iter_ <= 2


def test_aliases_fit_identically():
    ref = BackpropClassifier(solver="L-BFGS-B", max_iter=20, **SMALL)
    quiet_fit(ref, X, y)
    for alias in ("lbfgs", "l-bfgs-b"):
        est = quiet_fit(clone(ref).set_params(solver=alias), X, y)
        for a, b in zip(est.coefs_, ref.coefs_, strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("solver", ["adam", "sgd", "L-bfgs-B", "Trust-NCG"])
def test_unknown_solver_name_raises(solver):
    # SciPy's spelling or all lower case; "adam"/"sgd" are not offered.
    with pytest.raises(ValueError, match="solver"):
        BackpropClassifier(solver=solver).fit(X, y)


def _steepest_descent(fun, x0, args=(), jac=None, callback=None, **options):
    """A custom minimizer in SciPy's protocol: fixed-step steepest descent."""
    seen = {"hessp": options.pop("hessp", None), "options": dict(options)}
    x = np.array(x0, copy=True)
    nit = options["maxiter"]
    for _ in range(nit):
        x = x - options.get("step", 0.5) * jac(x, *args)
        if callback is not None:
            callback(OptimizeResult(x=x, fun=fun(x, *args)))
    return OptimizeResult(
        x=x, fun=fun(x, *args), nit=nit, success=True, message="custom", seen=seen
    )


def test_callable_minimizer():
    est = BackpropClassifier(
        solver=_steepest_descent, max_iter=25, solver_options={"step": 1.0}, **SMALL
    )
    J0 = initial_loss(est, X, y)
    est.fit(X, y)
    result = est.optimize_result_
    assert isinstance(result, OptimizeResult)
    assert result.message == "custom"
    # max_iter becomes maxiter; solver_options are passed as options.
    assert result.seen["options"]["maxiter"] == 25
    assert result.seen["options"]["step"] == 1.0
    assert callable(result.seen["hessp"])
    assert est.n_iter_ == 25
    assert len(est.loss_curve_) == 25
    assert np.all(np.diff(est.loss_curve_) < 0)
    assert est.loss_ < 0.7 * J0
    assert est.loss_ == pytest.approx(full_cost(flat(est)), rel=1e-12)


def test_solver_options_reach_scipy():
    # maxcor bounds the number of correction pairs L-BFGS-B keeps.
    one = BackpropClassifier(solver_options={"maxcor": 1}, max_iter=40, **SMALL)
    default = BackpropClassifier(max_iter=40, **SMALL)
    quiet_fit(one, X, y)
    quiet_fit(default, X, y)
    assert one.optimize_result_.hess_inv.n_corrs == 1
    assert default.optimize_result_.hess_inv.n_corrs > 1
    assert not np.array_equal(one.coefs_[0], default.coefs_[0])


def test_solver_options_override_max_iter():
    est = BackpropClassifier(solver_options={"maxiter": 3}, max_iter=100, **SMALL)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 3


@pytest.mark.parametrize("solver", ["L-BFGS-B", "CG", "Newton-CG"])
def test_unknown_solver_option_raises_and_leaves_the_model(solver):
    est = BackpropClassifier(solver=solver, max_iter=5, **SMALL)
    quiet_fit(est, X, y)
    coefs = [c.copy() for c in est.coefs_]
    est.set_params(solver_options={"no_such_option": 1})
    with pytest.raises(ValueError, match="no_such_option"):
        est.fit(X, y)
    for a, b in zip(est.coefs_, coefs, strict=True):
        assert np.array_equal(a, b)


def test_solver_options_with_gd_raise():
    est = BackpropClassifier(solver="gd", solver_options={"maxcor": 3})
    with pytest.raises(ValueError, match="solver_options"):
        est.fit(X, y)


@pytest.mark.parametrize("solver", [*CANONICAL_METHODS, "gd"])
def test_max_iter_bounds_the_iterations_and_warns(solver):
    est = BackpropClassifier(solver=solver, max_iter=3, tol=0.0, **SMALL)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 3
    assert len(est.loss_curve_) == 3


def test_tol_is_the_gradient_tolerance_of_lbfgs():
    loose = BackpropClassifier(tol=1e-2, max_iter=500, **SMALL).fit(X, y)
    tight = BackpropClassifier(tol=1e-6, max_iter=500, **{**SMALL, "alpha": 1e-2})
    quiet_fit(tight, X, y)
    assert loose.optimize_result_.success
    assert np.max(np.abs(loose.optimize_result_.jac)) <= 1e-2
    assert loose.n_iter_ < tight.n_iter_


@pytest.mark.parametrize("solver", ["SLSQP", "Newton-CG", "trust-ncg"])
def test_a_looser_tol_stops_sooner(solver):
    loose = quiet_fit(BackpropClassifier(solver=solver, tol=1e-1, **SMALL), X, y)
    tight = quiet_fit(BackpropClassifier(solver=solver, tol=1e-9, **SMALL), X, y)
    assert loose.n_iter_ < tight.n_iter_


@pytest.mark.parametrize("solver", ["Newton-CG", "trust-ncg", "trust-krylov"])
def test_gauss_newton_curvature(solver):
    gn = BackpropClassifier(
        solver=solver, curvature="gauss-newton", max_iter=15, **SMALL
    )
    exact = clone(gn).set_params(curvature="exact")
    J0 = initial_loss(gn, X, y)
    quiet_fit(gn, X, y)
    quiet_fit(exact, X, y)
    assert gn.loss_ < 0.5 * J0
    # The curvature products differ, so do the paths.
    assert not np.allclose(gn.coefs_[0], exact.coefs_[0])


@pytest.mark.parametrize("solver", ["L-BFGS-B", "CG", "lbfgs", "gd"])
def test_gauss_newton_needs_a_newton_type_solver(solver):
    est = BackpropClassifier(solver=solver, curvature="gauss-newton")
    with pytest.raises(ValueError, match="curvature"):
        est.fit(X, y)


# -- gradient descent: the update rule -----------------------------------------


def _steps(opt, theta, grads):
    out = []
    for D in grads:
        opt.update(theta, D.copy())  # update() overwrites D
        out.append(theta.copy())
    return out


GRADS = [np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -1.0])]
THETA0 = np.array([0.1, 0.2, -0.3])


def test_update_plain():
    opt = GradientDescent(0.1, "constant", 0.5, 0.0, False)
    t1, t2 = _steps(opt, THETA0.copy(), GRADS)
    np.testing.assert_allclose(t1, THETA0 - 0.1 * GRADS[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(t2, t1 - 0.1 * GRADS[1], rtol=0, atol=1e-15)


def test_update_classical_momentum():
    eta, mu = 0.1, 0.9
    opt = GradientDescent(eta, "constant", 0.5, mu, False)
    t1, t2 = _steps(opt, THETA0.copy(), GRADS)
    v1 = -eta * GRADS[0]
    v2 = mu * v1 - eta * GRADS[1]
    np.testing.assert_allclose(t1, THETA0 + v1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(t2, THETA0 + v1 + v2, rtol=0, atol=1e-15)


def test_update_nesterov_momentum():
    eta, mu = 0.1, 0.9
    opt = GradientDescent(eta, "constant", 0.5, mu, True)
    t1, t2 = _steps(opt, THETA0.copy(), GRADS)
    v1 = -eta * GRADS[0]
    v2 = mu * v1 - eta * GRADS[1]
    step1 = mu * v1 - eta * GRADS[0]
    step2 = mu * v2 - eta * GRADS[1]
    np.testing.assert_allclose(t1, THETA0 + step1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(t2, THETA0 + step1 + step2, rtol=0, atol=1e-15)


def test_update_invscaling_and_adaptive():
    opt = GradientDescent(0.1, "invscaling", 0.5, 0.0, False)
    t1, t2 = _steps(opt, THETA0.copy(), GRADS)
    np.testing.assert_allclose(t2, t1 - 0.1 / np.sqrt(2) * GRADS[1], atol=1e-15)
    adaptive = GradientDescent(0.1, "adaptive", 0.5, 0.0, False)
    assert adaptive.reduce()
    assert adaptive.eta == pytest.approx(0.02)
    assert not GradientDescent(0.1, "constant", 0.5, 0.0, False).reduce()


def test_update_keeps_float32():
    opt = GradientDescent(0.1, "constant", 0.5, 0.9, True)
    theta = THETA0.astype(np.float32)
    for D in GRADS:
        opt.update(theta, D.astype(np.float32))
    assert theta.dtype == np.float32
    assert opt.velocity.dtype == np.float32


# -- gradient descent in the estimators ----------------------------------------


def test_default_learning_rate_is_0_05():
    est = BackpropClassifier(solver="gd", max_iter=1, **SMALL)
    assert est.learning_rate_init == 0.05
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    # One full-batch step theta1 = theta0 - 0.05 D(theta0), by hand.
    sizes = (4, 6, 3)
    theta0 = init_params(sizes, "relu", random_state=0)
    D0 = cost_grad(theta0, X, Y, sizes, "relu", "log_loss", 1e-4)[1]
    np.testing.assert_allclose(flat(est), theta0 - 0.05 * D0, rtol=0, atol=1e-14)
    assert est.loss_ == pytest.approx(full_cost(theta0 - 0.05 * D0), rel=1e-12)


class _RowSpy:
    """Records the rows of every mini-batch an estimator draws."""

    def __init__(self, monkeypatch):
        self.rows = []
        original = _Objective.cost_grad_rows
        spy = self

        def cost_grad_rows(objective, theta, rows):
            spy.rows.append(np.arange(objective.n_samples)[rows])
            return original(objective, theta, rows)

        monkeypatch.setattr(_Objective, "cost_grad_rows", cost_grad_rows)


def test_gd_is_full_batch_by_default(monkeypatch):
    spy = _RowSpy(monkeypatch)
    quiet_fit(BackpropClassifier(solver="gd", max_iter=5, **SMALL), X, y)
    assert spy.rows == []


def test_mini_batches_are_reshuffled_every_epoch(monkeypatch, seed):
    spy = _RowSpy(monkeypatch)
    est = BackpropClassifier(solver="gd", batch_size=32, max_iter=3, **SMALL)
    quiet_fit(est, X, y)
    assert [len(r) for r in spy.rows] == [32, 32, 16] * 3
    epochs = [np.concatenate(spy.rows[i : i + 3]) for i in (0, 3, 6)]
    for order in epochs:
        assert sorted(order) == list(range(80))
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])

    # The same random_state draws the same batches, another one others.
    first = spy.rows
    spy.rows = []
    quiet_fit(clone(est), X, y)
    assert all(np.array_equal(a, b) for a, b in zip(first, spy.rows, strict=True))
    spy.rows = []
    quiet_fit(clone(est).set_params(random_state=seed + 1), X, y)
    assert not np.array_equal(first[0], spy.rows[0])

    # shuffle=False: the rows in order, every epoch.
    spy.rows = []
    quiet_fit(clone(est).set_params(shuffle=False), X, y)
    assert np.array_equal(np.concatenate(spy.rows), np.tile(np.arange(80), 3))


def test_mini_batch_gd_learns():
    est = BackpropClassifier(solver="gd", batch_size=16, max_iter=40, **SMALL)
    J0 = initial_loss(est, X, y)
    quiet_fit(est, X, y)
    assert est.loss_ < 0.5 * J0
    assert est.score(X, y) > 0.85


def _gd(**params):
    kw = {"solver": "gd", "max_iter": 60, "tol": 0.0, **SMALL, **params}
    return quiet_fit(BackpropClassifier(**kw), X, y)


def test_momentum_converges_faster_than_plain_gd():
    plain = _gd()
    momentum = _gd(momentum=0.9)
    nesterov = _gd(momentum=0.9, nesterovs_momentum=True)
    assert momentum.loss_ < 0.8 * plain.loss_
    assert nesterov.loss_ < 0.8 * plain.loss_
    assert not np.array_equal(momentum.coefs_[0], nesterov.coefs_[0])


def test_invscaling_takes_shrinking_steps():
    constant = _gd()
    invscaling = _gd(learning_rate="invscaling", power_t=0.5)
    # Same first step, smaller ones after it: the loss falls more slowly.
    assert invscaling.loss_curve_[0] == constant.loss_curve_[0]
    assert invscaling.loss_ > constant.loss_


def test_adaptive_keeps_going_where_constant_stops():
    params = {"learning_rate_init": 5.0, "n_iter_no_change": 3, "max_iter": 200}
    constant = _gd(**params, tol=1e-4)
    adaptive = _gd(**params, tol=1e-4, learning_rate="adaptive")
    assert constant.n_iter_ < 200
    assert adaptive.n_iter_ > constant.n_iter_
    assert adaptive.loss_ < constant.loss_


def test_gd_stops_when_the_training_loss_stalls():
    est = BackpropClassifier(
        solver="gd", learning_rate_init=0.5, tol=1e-2, n_iter_no_change=3, **SMALL
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ < est.max_iter
    # Each of the last n_iter_no_change + 1 iterations improved on the best
    # loss so far by less than tol; the one before them by more.
    curve = est.loss_curve_
    n = len(curve)
    for k in range(n - 4, n):
        assert curve[k] > min(curve[:k]) - 1e-2
    assert curve[n - 5] <= min(curve[: n - 5]) - 1e-2


def test_gd_max_iter_warns():
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        BackpropClassifier(solver="gd", max_iter=5, **SMALL).fit(X, y)


def test_diverging_gd_stops_with_finite_weights_and_advice(seed):
    X_big = Xr * 100.0  # unscaled inputs and a huge step: the loss explodes
    for activation in ("identity", "tanh"):
        est = BackpropRegressor(
            hidden_layer_sizes=(5,),
            activation=activation,
            solver="gd",
            learning_rate_init=1e3,
            max_iter=50,
            random_state=seed,
        )
        with pytest.warns(ConvergenceWarning, match="smaller learning_rate_init"):
            est.fit(X_big, yr)
        assert est.n_iter_ < 50
        assert all(np.isfinite(c).all() for c in est.coefs_ + est.intercepts_)
        assert np.isfinite(est.loss_)
        assert np.isfinite(est.predict(X_big)).all()


# -- early stopping ------------------------------------------------------------


@pytest.mark.parametrize("solver", ["gd", "L-BFGS-B"])
def test_early_stopping_keeps_the_best_parameters(solver):
    xs = []
    est = BackpropClassifier(
        solver=solver,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=4,
        learning_rate_init=0.5,
        max_iter=300,
        callback=lambda state: xs.append(state.x),
        **SMALL,
    )
    est.fit(X, y)
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ == len(xs) < 300
    assert est.best_validation_score_ == max(scores)
    assert est.best_loss_ is None
    # Stopped n_iter_no_change + 1 iterations without improvement ...
    assert max(scores[-5:]) < est.best_validation_score_ + est.tol
    # ... and restored the first iterate with the best validation score.
    best = int(np.argmax(scores))
    np.testing.assert_array_equal(flat(est), xs[best])
    # loss_ is the training cost of the parameters kept.
    assert est.loss_ == pytest.approx(est.loss_curve_[best], rel=1e-12)
    assert est.loss_ < initial_loss(est, X, y)
    if solver != "gd":
        assert est.optimize_result_ is None  # SciPy did not finish


def test_early_stopping_split_is_stratified():
    # Noise features and a huge penalty: the network predicts the majority
    # class, so its validation accuracy is that class's share of the held-out
    # rows, exactly 5/10 when the split is stratified (50/30/20 classes).
    rng = np.random.default_rng(0)
    Xn = rng.normal(size=(100, 2))
    yn = np.repeat([0, 1, 2], [50, 30, 20])
    for seed in range(6):
        est = BackpropClassifier(
            hidden_layer_sizes=(2,),
            alpha=1e4,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=50,
            random_state=seed,
        )
        est.fit(Xn, yn)
        assert est.validation_scores_[-1] == 0.5


def test_early_stopping_regressor_scores_r2(seed):
    est = BackpropRegressor(
        hidden_layer_sizes=(6,), early_stopping=True, random_state=seed, max_iter=100
    )
    quiet_fit(est, Xr, yr)
    assert 0.9 < est.best_validation_score_ <= 1.0


def test_early_stopping_with_too_few_rows_raises():
    est = BackpropRegressor(early_stopping=True, validation_fraction=0.01)
    with pytest.raises(ValueError, match="validation_fraction"):
        est.fit(Xr, yr)
    # A stratified split needs a held-out row per class.
    est = BackpropClassifier(early_stopping=True, validation_fraction=0.02)
    with pytest.raises(ValueError):
        est.fit(X, y)


# -- partial_fit ---------------------------------------------------------------


def test_classifier_partial_fit():
    est = BackpropClassifier(solver="gd", learning_rate_init=0.5, **SMALL)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y)
    assert not hasattr(est, "coefs_")
    est.partial_fit(X[:40], y[:40], classes=[0, 1, 2])
    assert est.n_iter_ == 1
    assert list(est.classes_) == [0, 1, 2]
    for _ in range(30):
        est.partial_fit(X, y)
    # n_iter_ counts the last call's epochs, the curve all of them.
    assert est.n_iter_ == 1
    assert len(est.loss_curve_) == 31
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]
    assert est.score(X, y) > 0.85
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X[:3], [0, 1, 3])
    assert len(est.loss_curve_) == 31


def test_partial_fit_classes_may_be_absent_from_the_first_batch():
    est = BackpropClassifier(solver="gd", **SMALL)
    first = y < 2
    est.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert est.predict_proba(X).shape == (80, 3)
    est.partial_fit(X, y)


def test_regressor_partial_fit_equals_full_batch_fit():
    one = BackpropRegressor(solver="gd", max_iter=1, **SMALL)
    with pytest.warns(ConvergenceWarning):
        one.fit(Xr, yr)
    inc = BackpropRegressor(solver="gd", **SMALL).partial_fit(Xr, yr)
    np.testing.assert_array_equal(flat(inc), flat(one))


def test_partial_fit_sample_weight():
    # Zero weights are the same as leaving the rows out.
    sw = (np.arange(60) % 3 != 0).astype(float)
    weighted = BackpropRegressor(solver="gd", **SMALL)
    dropped = BackpropRegressor(solver="gd", **SMALL)
    for _ in range(3):
        weighted.partial_fit(Xr, yr, sample_weight=sw)
        dropped.partial_fit(Xr[sw > 0], yr[sw > 0])
    np.testing.assert_allclose(flat(weighted), flat(dropped), rtol=1e-10, atol=1e-12)
    unweighted = BackpropRegressor(solver="gd", **SMALL).partial_fit(Xr, yr)
    assert not np.allclose(flat(unweighted), flat(weighted))


@pytest.mark.parametrize("solver", ["L-BFGS-B", "lbfgs", "Newton-CG", _x0])
def test_partial_fit_only_for_gd(solver):
    for Est, target in ((BackpropClassifier, y), (BackpropRegressor, yr)):
        est = Est(solver=solver)
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit"):
            est.partial_fit(X[: len(target)], target)
        assert hasattr(Est(solver="gd"), "partial_fit")


# -- warm_start ----------------------------------------------------------------


def test_warm_start_gd_continues_where_it_stopped():
    first = BackpropClassifier(solver="gd", max_iter=20, warm_start=True, **SMALL)
    quiet_fit(first, X, y)
    loss_after_20 = first.loss_
    quiet_fit(first, X, y)
    # Plain full-batch descent has no state beyond the weights: 20 + 20
    # iterations are 40.
    once = quiet_fit(BackpropClassifier(solver="gd", max_iter=40, **SMALL), X, y)
    assert first.n_iter_ == 20  # the last call's, as scikit-learn's
    np.testing.assert_allclose(first.loss_curve_, once.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(flat(first), flat(once), rtol=1e-12, atol=1e-14)
    assert first.loss_curve_[19] == loss_after_20
    assert first.loss_curve_[20] < loss_after_20


def test_warm_start_scipy_starts_from_the_previous_weights():
    est = BackpropClassifier(max_iter=15, warm_start=True, **SMALL)
    quiet_fit(est, X, y)
    previous = est.loss_
    cold_first = est.loss_curve_[0]
    quiet_fit(est, X, y)
    assert est.loss_curve_[0] <= previous < cold_first
    assert est.loss_ <= previous
    cold = quiet_fit(clone(est).set_params(warm_start=False), X, y)
    assert cold.loss_curve_[0] == cold_first


def test_warm_start_with_new_classes_raises():
    est = BackpropClassifier(warm_start=True, max_iter=5, **SMALL)
    quiet_fit(est, X, y)
    with pytest.raises(ValueError, match="classes"):
        est.fit(X, np.where(y == 2, 3, y))


# -- verbose and callback ------------------------------------------------------


def _iteration_lines(out):
    return re.findall(r"^Iteration (\d+), loss = ([0-9.e+-]+)$", out, re.MULTILINE)


@pytest.mark.parametrize("solver", ["gd", "L-BFGS-B", "trust-ncg", "TNC"])
def test_verbose_prints_every_iteration(solver, capsys):
    est = BackpropClassifier(solver=solver, max_iter=4, tol=0.0, verbose=1, **SMALL)
    quiet_fit(est, X, y)
    lines = _iteration_lines(capsys.readouterr().out)
    assert [int(k) for k, _ in lines] == [1, 2, 3, 4]
    np.testing.assert_allclose([float(v) for _, v in lines], est.loss_curve_, 1e-7)


def test_verbose_prints_the_validation_score(capsys):
    est = BackpropClassifier(
        solver="gd", max_iter=3, early_stopping=True, verbose=True, **SMALL
    )
    quiet_fit(est, X, y)
    out = capsys.readouterr().out
    scores = re.findall(r"^Validation score: ([0-9.]+)$", out, re.MULTILINE)
    assert len(_iteration_lines(out)) == 3
    np.testing.assert_allclose([float(s) for s in scores], est.validation_scores_)


def test_silent_by_default(capsys):
    quiet_fit(BackpropClassifier(max_iter=3, **SMALL), X, y)
    quiet_fit(BackpropClassifier(solver="gd", max_iter=3, **SMALL), X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("solver", ["gd", "L-BFGS-B", "CG", "TNC", "trust-constr"])
def test_callback_state(solver):
    states = []
    est = BackpropClassifier(
        solver=solver, max_iter=5, callback=states.append, tol=0.0, **SMALL
    )
    quiet_fit(est, X, y)
    assert [s.nit for s in states] == [1, 2, 3, 4, 5]
    assert [s.fun for s in states] == est.loss_curve_
    for s in states:
        assert isinstance(s, OptimizeResult)
        assert s.validation_score is None
        # fun is the cost at x.
        assert s.fun == pytest.approx(full_cost(s.x), rel=1e-10)
    assert not np.array_equal(states[0].x, states[1].x)
    np.testing.assert_array_equal(states[-1].x, flat(est))


@pytest.mark.parametrize("solver", ["gd", "L-BFGS-B", "Newton-CG", "TNC"])
def test_callback_returning_true_stops(solver):
    est = BackpropClassifier(
        solver=solver, callback=lambda state: state.nit == 3, **SMALL
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == 3
    assert len(est.loss_curve_) == 3
    assert est.loss_ == pytest.approx(full_cost(flat(est)), rel=1e-10)


def test_callback_raising_stopiteration_stops():
    def callback(state):
        if state.nit == 2:
            raise StopIteration

    for solver in ("gd", "BFGS"):
        est = BackpropClassifier(solver=solver, callback=callback, **SMALL)
        est.fit(X, y)
        assert est.n_iter_ == 2


def test_callback_sees_validation_scores():
    states = []
    est = BackpropClassifier(
        early_stopping=True, max_iter=5, callback=states.append, **SMALL
    )
    quiet_fit(est, X, y)
    assert [s.validation_score for s in states] == est.validation_scores_
    assert all(0.0 <= s.validation_score <= 1.0 for s in states)
