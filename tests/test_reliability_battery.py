"""Reliability battery, second round: hostile inputs of new kinds.

* Non-finite curvature products and gradients end every solver's fit with a
  warning and the last finite weights: no hang, no SciPy error.
* Weights of any scale, class weights that are not weights, complex data,
  multilabel ``classes`` that do not match the columns: trained on exactly,
  or refused clearly.
* Fitted attributes tell the truth: ``loss_`` is the cost at the returned
  weights, ``n_iter_`` counts ``loss_curve_``, whatever the solver says.
* A failing fit leaves the user's RandomState alone; a callback's NumPy
  ``True`` stops; hostile solver options and custom solvers fail clearly.
* Concurrent fits in threads give the serial results.

(pyproject.toml turns every RuntimeWarning into an error: none of these
cases may leak an overflow warning.)
"""

import copy
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.optimize import OptimizeResult, minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    check_gradient,
    cost_grad,
    gauss_newton_vector_product,
    hessian_vector_product,
    init_params,
    pack_params,
    predict_network,
)
from skbackprop._training.dask import DaskObjective
from skbackprop._training.objective import InMemoryObjective

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
Y3 = np.digitize(X[:, 1], [-0.5, 0.5])
YL = (RNG.random((40, 3)) > 0.5).astype(int)
YR = X[:, 0] - 2 * X[:, 2] + 0.1
SW = RNG.uniform(0.1, 3.0, len(X))
SMALL = {"hidden_layer_sizes": (3,), "random_state": 0, "max_iter": 15}

SCIPY_SOLVERS = [
    "L-BFGS-B",
    "CG",
    "BFGS",
    "TNC",
    "SLSQP",
    "Newton-CG",
    "trust-ncg",
    "trust-krylov",
    "trust-constr",
    "Nelder-Mead",
    "Powell",
    "COBYLA",
    "COBYQA",
]
HESSIAN_SOLVERS = ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr"]


def _fit(est, X_, y, **kwargs):
    """Fit, ignoring convergence warnings (RuntimeWarnings stay errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X_, y, **kwargs)


def _warnings_of_fit(est, X_, y, **kwargs):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X_, y, **kwargs)
    return [str(w.message) for w in record if w.category is ConvergenceWarning]


def _theta(est):
    return pack_params(est.coefs_, est.intercepts_)


FITTED_CLF = _fit(BackpropClassifier(**SMALL), X, Y)
FITTED_REG = _fit(BackpropRegressor(**SMALL), X, YR)


def _cost(est, X_, y, sample_weight=None):
    """The cost at the estimator's weights, by the public ``cost_grad``, with
    the user's (unnormalized) sample weights times the class weights."""
    if hasattr(est, "classes_"):
        Y_ = est._label_binarizer.transform(y).astype(float)
        if getattr(est, "class_weight", None) is not None:
            from sklearn.utils.class_weight import compute_sample_weight

            cw = compute_sample_weight(est.class_weight, y)
            sample_weight = cw if sample_weight is None else sample_weight * cw
    else:
        Y_ = np.asarray(y, float).reshape(len(y), -1)
    sizes = (est.n_features_in_, *(W.shape[1] for W in est.coefs_))
    X_ = np.asarray(X_, dtype=est.coefs_[0].dtype)
    return cost_grad(
        _theta(est),
        X_,
        Y_,
        sizes,
        est.activation,
        est.loss_function_,
        est.alpha,
        sample_weight,
    )[0]


def _finite(est):
    assert all(np.isfinite(a).all() for a in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.loss_)


def _count_calls(monkeypatch, cls, name, limit):
    """Count ``cls.name`` calls; fail loudly past ``limit`` instead of hanging."""
    calls = []
    original = getattr(cls, name)

    def counted(self, *args):
        calls.append(1)
        if len(calls) > limit:
            raise AssertionError(f"{name} called over {limit} times: a hang")
        return original(self, *args)

    monkeypatch.setattr(cls, name, counted)
    return calls


# -- item 2: non-finite curvature and gradients -------------------------------------
# The 7x4 multilabel problem: trust-ncg hangs on it at X*1e105.
_rng7 = np.random.default_rng(0)
X7 = _rng7.normal(size=(7, 4))
Y7 = (_rng7.random((7, 3)) > 0.5).astype(int)
Y7[:2] = [[1, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize("solver", HESSIAN_SOLVERS)
@pytest.mark.parametrize(
    "scale, hidden", [(1e105, (1,)), (1e150, (1,)), (1e170, ()), (1e170, (2,))]
)
def test_non_finite_curvature_ends_the_fit(solver, scale, hidden, monkeypatch):
    # trust-ncg used to call hessp about 19k times a second for ever (v'Hv
    # overflows, its CG step is 0), or let SciPy's ValueError escape.
    calls = _count_calls(monkeypatch, InMemoryObjective, "hessp", 500)
    est = BackpropClassifier(
        hidden_layer_sizes=hidden, solver=solver, max_iter=15, random_state=0
    )
    messages = _warnings_of_fit(est, X7 * scale, Y7)  # no exception
    assert len(calls) <= 500
    _finite(est)
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_ == pytest.approx(_cost(est, X7 * scale, Y7), rel=1e-12)
    if len(calls) == 1:  # the very first product overflowed
        assert any("curvature product H v became non-finite" in m for m in messages)


def test_non_finite_curvature_ends_a_dask_fit(monkeypatch):
    da = pytest.importorskip("dask.array")
    calls = _count_calls(monkeypatch, DaskObjective, "hessp", 100)
    est = BackpropClassifier(
        hidden_layer_sizes=(1,), solver="trust-ncg", max_iter=15, random_state=0
    )
    messages = _warnings_of_fit(
        est, da.from_array(X7 * 1e105, chunks=4), da.from_array(Y7, chunks=4)
    )
    assert any("curvature product" in m for m in messages) and len(calls) <= 100
    _finite(est)


def test_a_custom_solver_meets_the_curvature_guard():
    def newton_once(fun, x0, hessp, callback, **kwargs):
        hessp(x0, np.full_like(x0, 1e300))  # v'Hv overflows
        return OptimizeResult(x=x0, success=True)  # pragma: no cover

    est = BackpropRegressor(**SMALL, solver=newton_once)
    messages = _warnings_of_fit(est, X, YR)
    assert any("curvature product H v became non-finite" in m for m in messages)
    _finite(est)


# X*1e154 through a ReLU layer: J ~ 2e306 is finite, D overflows.
X_HUGE_GRADIENT = np.abs(X) * 1e154


@pytest.mark.parametrize("solver", [*SCIPY_SOLVERS, "gd"])
def test_non_finite_gradient_ends_the_fit(solver):
    est = BackpropRegressor(
        hidden_layer_sizes=(2,), solver=solver, max_iter=20, random_state=0
    )
    messages = _warnings_of_fit(est, X_HUGE_GRADIENT, YR)
    _finite(est)
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_ == pytest.approx(_cost(est, X_HUGE_GRADIENT, YR), rel=1e-12)
    if solver not in ("Nelder-Mead", "Powell", "COBYLA", "COBYQA"):
        assert any("The gradient became non-finite" in m for m in messages), messages
        assert est.n_iter_ == 0


def test_the_huge_gradient_case_has_a_finite_loss():
    # The premise of the test above: a finite J with a non-finite D at the
    # estimator's starting weights.
    theta = init_params((3, 2, 1), "relu", random_state=0)
    J, D = cost_grad(theta, X_HUGE_GRADIENT, YR, (3, 2, 1), loss="squared_error")
    assert np.isfinite(J) and not np.isfinite(D).all()


# -- item 4: class weights are weights ----------------------------------------------
BAD_CLASS_WEIGHTS = [
    {0: -1.0, 1: 2.0},
    {0: np.nan, 1: 1.0},
    {0: np.inf, 1: 1.0},
    {0: -np.inf, 1: 1.0},
    {0: "2", 1: 1.0},
    {0: None, 1: 1.0},
    {0: 1.0, 1: -1e-300},
]


def _same_state(est, before):
    assert pickle.dumps(est) == pickle.dumps(before)


@pytest.mark.parametrize("dask", [False, True], ids=["memory", "dask"])
@pytest.mark.parametrize("class_weight", BAD_CLASS_WEIGHTS, ids=repr)
def test_class_weights_must_be_finite_and_non_negative(class_weight, dask):
    est = copy.deepcopy(FITTED_CLF)
    before = copy.deepcopy(est)
    X_, y = X, Y
    if dask:
        da = pytest.importorskip("dask.array")
        X_, y = da.from_array(X, chunks=15), da.from_array(Y, chunks=15)
    est.set_params(class_weight=class_weight)
    with pytest.raises(ValueError, match=r"class_weight\[.*finite and non-negative"):
        est.fit(X_, y)
    est.set_params(class_weight=None)
    _same_state(est, before)


def test_multilabel_class_weights_are_checked_per_output():
    est = BackpropClassifier(**SMALL, class_weight=[{0: 1, 1: 1}] * 2 + [{0: 1, 1: -2}])
    with pytest.raises(ValueError, match=r"class_weight\[1\] is -2"):
        est.fit(X, YL)
    assert not hasattr(est, "coefs_")


def test_zero_class_weights_still_say_they_sum_to_zero():
    est = BackpropClassifier(**SMALL, class_weight={0: 0.0, 1: 0.0})
    with pytest.raises(ValueError, match="sum to zero"):
        est.fit(X, Y)


# -- item 5: complex data -----------------------------------------------------------
def _dask(a, chunks=15):
    da = pytest.importorskip("dask.array")
    return da.from_array(a, chunks=chunks)


@pytest.mark.parametrize("what", ["X", "y", "sample_weight"])
def test_dask_refuses_complex_data_like_memory(what):
    inputs = {"X": X, "y": YR, "sample_weight": SW}
    inputs[what] = inputs[what] + 1j
    for as_input in (np.asarray, _dask):
        est = BackpropRegressor(**SMALL)
        with pytest.raises(ValueError, match="Complex data not supported"):
            est.fit(*(as_input(inputs[k]) for k in ("X", "y", "sample_weight")))
        assert not hasattr(est, "coefs_")


def test_dask_prediction_refuses_complex_input():
    est = _fit(BackpropRegressor(**SMALL), X, YR)
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.predict(_dask(X + 1j))


THETA = init_params((3, 2, 1), random_state=0)
FUNCTIONAL = {
    "cost_grad-X": lambda: cost_grad(
        THETA, X + 1j, YR, (3, 2, 1), loss="squared_error"
    ),
    "cost_grad-Y": lambda: cost_grad(
        THETA, X, YR + 1j, (3, 2, 1), loss="squared_error"
    ),
    "cost_grad-theta": lambda: cost_grad(THETA + 1j, X, YR, (3, 2, 1)),
    "cost_grad-weights": lambda: cost_grad(
        THETA, X, YR, (3, 2, 1), loss="squared_error", sample_weight=SW + 1j
    ),
    "hessp-v": lambda: hessian_vector_product(THETA, THETA + 1j, X, YR, (3, 2, 1)),
    "gauss-newton-X": lambda: gauss_newton_vector_product(
        THETA, THETA, X * 1j, YR, (3, 2, 1)
    ),
    "predict-X": lambda: predict_network(THETA, X + 0j, (3, 2, 1)),
    "predict-theta": lambda: predict_network(THETA + 0j, X, (3, 2, 1)),
    "check_gradient": lambda: check_gradient(
        cost_grad, THETA + 1j, (X, YR, (3, 2, 1), "relu", "squared_error")
    ),
}


@pytest.mark.parametrize("case", list(FUNCTIONAL))
def test_functional_api_refuses_complex_input(case):
    with pytest.raises(ValueError, match="Complex data not supported"):
        FUNCTIONAL[case]()


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.complex128, bool, object])
def test_init_params_refuses_non_float_dtypes(dtype):
    with pytest.raises((ValueError, TypeError)):
        init_params((3, 2, 1), dtype=dtype)


# -- item 6: multilabel classes are the columns -------------------------------------
@pytest.mark.parametrize(
    "classes", [[0, 1, 2, 3], [0, 1], [1, 2, 3], ["a", "b", "c"]], ids=repr
)
def test_multilabel_partial_fit_classes_must_be_the_columns(classes):
    est = BackpropClassifier(**SMALL, solver="gd")
    with pytest.raises(ValueError, match=r"column indices \[0, 1, 2\]"):
        est.partial_fit(X, YL, classes=classes)
    assert not hasattr(est, "classes_")


def test_multilabel_partial_fit_classes_match_the_predictions():
    est = BackpropClassifier(**SMALL, solver="gd").partial_fit(X, YL, classes=[0, 1, 2])
    assert est.classes_.tolist() == [0, 1, 2]
    assert est.predict(X).shape == est.predict_proba(X).shape == (len(X), 3)


@pytest.mark.parametrize(
    "first, then",
    [(Y, YL[:, :2]), (YL[:, :2], Y), (YL, Y3)],
    ids=["binary-then-multilabel", "multilabel-then-binary", "multilabel-then-3"],
)
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_continued_fits_keep_the_kind_of_targets(first, then, how):
    if how == "partial_fit":
        est = BackpropClassifier(**SMALL, solver="gd")
        classes = [0, 1, 2][: (first.shape[1] if first.ndim == 2 else 2)]
        est.partial_fit(X, first, classes=classes)
        refit = est.partial_fit
    else:
        est = _fit(BackpropClassifier(**SMALL, warm_start=True), X, first)
        refit = est.fit
    before = copy.deepcopy(est)
    with pytest.raises(ValueError, match="same kind of targets"):
        refit(X, then)
    _same_state(est, before)


# -- item 7: a failing fit leaves the user's RandomState alone -------------------------
def _raise(state):
    raise ValueError("callback failed")


FAILING_FITS = {
    "bad-solver-option": dict(solver_options={"bogus": 1}),
    "callback-raises": dict(callback=_raise),
    "gd-minibatch-callback": dict(solver="gd", batch_size=8, callback=_raise),
    "early-stopping-callback": dict(early_stopping=True, callback=_raise),
}


@pytest.mark.parametrize(
    "case, dask",
    [(case, False) for case in FAILING_FITS]
    + [("bad-solver-option", True), ("callback-raises", True)],
)
def test_a_failing_fit_does_not_advance_the_users_random_state(case, dask):
    X_, y = (_dask(X), _dask(Y)) if dask else (X, Y)
    rng = np.random.RandomState(0)
    est = BackpropClassifier(**{**SMALL, "random_state": rng}, **FAILING_FITS[case])
    with pytest.raises(ValueError):
        est.fit(X_, y)
    assert rng.randint(2**31) == np.random.RandomState(0).randint(2**31)
    assert est.random_state is rng


def test_a_fit_after_a_failed_one_equals_a_fresh_fit():
    rng = np.random.RandomState(0)
    est = BackpropClassifier(**{**SMALL, "random_state": rng}, solver_options={"x": 1})
    with pytest.raises(ValueError):
        est.fit(X, Y)
    est.set_params(solver_options=None)
    fresh = BackpropClassifier(**{**SMALL, "random_state": np.random.RandomState(0)})
    np.testing.assert_array_equal(_theta(_fit(est, X, Y)), _theta(_fit(fresh, X, Y)))


# -- item 8: any boolean True stops ---------------------------------------------------
STOPS = {
    "np.True_": lambda state: np.True_,
    "comparison": lambda state: np.isfinite(state.fun),
    "np.bool_(1)": lambda state: np.bool_(1),
    "True": lambda state: True,
}
GOES_ON = {
    "np.False_": lambda state: np.False_,
    "None": lambda state: None,
    "False": lambda state: False,
}


@pytest.mark.parametrize("solver", ["gd", "L-BFGS-B", "trust-ncg", "Nelder-Mead"])
@pytest.mark.parametrize("callback", list(STOPS))
def test_a_numpy_true_from_the_callback_stops(solver, callback):
    est = _fit(
        BackpropClassifier(**SMALL, solver=solver, callback=STOPS[callback]), X, Y
    )
    assert est.n_iter_ == len(est.loss_curve_) == 1


@pytest.mark.parametrize("callback", list(GOES_ON))
def test_a_false_callback_result_goes_on(callback):
    est = _fit(
        BackpropClassifier(**SMALL, solver="gd", callback=GOES_ON[callback]), X, Y
    )
    assert est.n_iter_ == 15


# -- item 9: weights of any scale -----------------------------------------------------
@pytest.mark.parametrize("k", [-1000, -500, 500, 1000])
@pytest.mark.parametrize(
    "solver, dtype",
    [("L-BFGS-B", np.float64), ("L-BFGS-B", np.float32), ("gd-minibatch", np.float64)],
)
def test_scaling_weights_and_alpha_together_changes_nothing(k, solver, dtype):
    # (sum_i s_i loss_i + alpha/2 ||W||^2) / sum_i s_i is the same cost for
    # c s and c alpha: the fit is the same, bit for bit, however large or
    # small c (s * 2**1000 overflows float32; subnormal weights, which hold
    # fewer bits, are in the uniform-weight test below).
    params = {"solver": "gd", "batch_size": 16} if solver == "gd-minibatch" else {}
    X_ = X.astype(dtype)
    est = _fit(
        BackpropRegressor(**SMALL, **params, alpha=0.3), X_, YR, sample_weight=SW
    )
    c = 2.0**k
    scaled = BackpropRegressor(**SMALL, **params, alpha=0.3 * c)
    _fit(scaled, X_, YR, sample_weight=SW * c)
    np.testing.assert_array_equal(_theta(scaled), _theta(est))
    assert scaled.loss_curve_ == est.loss_curve_


def test_weight_normalization_keeps_the_cost_exact():
    # loss_ is the cost, as cost_grad computes it with the user's weights.
    est = _fit(
        BackpropClassifier(**SMALL, class_weight={0: 0.3, 1: 7.0}),
        X,
        Y,
        sample_weight=SW,
    )
    assert est.loss_ == _cost(est, X, Y, SW)


@pytest.mark.parametrize("c", [1e308, 1e300, 2.0**-1000, 1e-320, 5e-324])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_uniform_weights_of_any_scale_train_like_no_weights(c, dtype):
    # Without a penalty, uniform weights cancel out of the cost: any c fits
    # as no weights do (1e308 used to overflow, 1e-320 to underflow).
    X_ = X.astype(dtype)
    est = BackpropClassifier(**SMALL, alpha=0.0)
    messages = _warnings_of_fit(est, X_, Y, sample_weight=np.full(len(X), c))
    plain = _fit(BackpropClassifier(**SMALL, alpha=0.0), X_, Y)
    assert not any("non-finite" in m for m in messages), messages
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(_theta(est), _theta(plain), rtol=rtol, atol=rtol)


def test_huge_uniform_weights_train_with_the_default_alpha():
    # The case: the model used to stay at its random start.
    est = BackpropClassifier(**SMALL)
    messages = _warnings_of_fit(est, X, Y, sample_weight=np.full(len(X), 1e308))
    assert not any("non-finite" in m for m in messages), messages
    start = init_params((3, 3, 1), "relu", random_state=0)
    assert not np.allclose(_theta(est), start)
    assert est.loss_ < 0.5 and est.score(X, Y) > 0.9


@pytest.mark.parametrize("dask", [False, True], ids=["memory", "dask"])
def test_a_penalty_beyond_floating_point_is_refused_clearly(dask):
    # alpha / sum(s) = 1e-4 / 4e-319 overflows: the cost is infinite for any
    # non-zero weight.  The weights' scale sets the penalty's weight.
    sw = np.full(len(X), 1e-320)
    args = (_dask(X), _dask(Y), _dask(sw)) if dask else (X, Y, sw)
    est = BackpropClassifier(alpha=1e-4, **SMALL)
    with pytest.raises(
        ValueError, match=r"alpha=0.0001 is too large .* sample weights"
    ):
        est.fit(*args)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize(
    "weights",
    [
        {"sample_weight": np.full(40, 1e39)},  # inf in float32
        {"sample_weight": np.r_[np.zeros(20), np.full(20, 1e308)]},
        {"class_weight": {0: 1e308, 1: 1e308}},
        {"class_weight": {0: 1e308, 1: 1e-300}},
        {"class_weight": {0: 5e-324, 1: 5e-324}, "alpha": 0.0},
        {"class_weight": "balanced", "sample_weight": np.full(40, 1e300)},
    ],
    ids=["float32-inf", "zeros-and-huge", "cw-huge", "cw-spread", "cw-tiny", "both"],
)
@pytest.mark.parametrize("dask", [False, True], ids=["memory", "dask"])
def test_extreme_weights_train_without_overflow(weights, dask):
    weights = dict(weights)
    sw = weights.pop("sample_weight", None)
    X_ = X.astype(np.float32)
    est = BackpropClassifier(**SMALL, **weights)
    if dask:
        X_, y, sw = _dask(X_), _dask(Y), None if sw is None else _dask(sw)
    else:
        y = Y
    messages = _warnings_of_fit(est, X_, y, sample_weight=sw)
    assert not any("non-finite" in m for m in messages), messages
    _finite(est)
    assert len(est.loss_curve_) == est.n_iter_ > 0


@pytest.mark.parametrize("solver", ["L-BFGS-B", "gd", "trust-ncg"])
def test_an_overflowing_penalty_blames_alpha_not_the_inputs(solver):
    # Not even the starting parameters have a finite cost: the fit raises
    # (as scikit-learn's does) and says the penalty, not the data, overflowed.
    est = BackpropClassifier(**SMALL, solver=solver, alpha=1e308)
    with pytest.raises(ValueError, match="non-finite") as info:
        est.fit(X, Y)
    message = str(info.value)
    assert "alpha" in message and "Scale the inputs" not in message
    assert not hasattr(est, "coefs_")


# -- item 10: fitted attributes tell the truth ---------------------------------------
@pytest.mark.parametrize("solver", [*SCIPY_SOLVERS, "gd"])
@pytest.mark.parametrize("max_iter", [1, 5])
def test_n_iter_counts_the_loss_curve_and_loss_is_the_cost(solver, max_iter):
    seen = []
    est = BackpropClassifier(
        **{**SMALL, "max_iter": max_iter}, solver=solver, callback=seen.append
    )
    _fit(est, X, Y3)
    assert est.n_iter_ == len(est.loss_curve_) == len(seen)
    assert est.loss_ == pytest.approx(_cost(est, X, Y3), rel=1e-12)
    if seen:
        assert est.loss_curve_ == [s.fun for s in seen]


@pytest.mark.parametrize("solver", ["L-BFGS-B", "trust-ncg", "Nelder-Mead", "gd"])
def test_dask_fits_report_the_cost_and_count_the_curve(solver):
    est = _fit(
        BackpropClassifier(**{**SMALL, "max_iter": 5}, solver=solver),
        _dask(X),
        _dask(Y3),
        sample_weight=_dask(SW),
    )
    assert est.n_iter_ == len(est.loss_curve_) > 0
    assert est.loss_ == pytest.approx(_cost(est, X, Y3, SW), rel=1e-10)


def test_cobyla_reports_the_cost_not_its_stand_in():
    # COBYLA replaces an overflowing cost by 1e30 internally.
    est = BackpropClassifier(**SMALL, solver="COBYLA")
    _fit(est, X * 1e150, Y)
    assert est.loss_ == pytest.approx(_cost(est, X * 1e150, Y), rel=1e-12)
    assert est.n_iter_ == len(est.loss_curve_)


def _liar(fun, x0, jac, callback=None, **kwargs):
    """A custom solver that reports a cost and iterations it did not reach."""
    res = minimize(fun, x0, jac=jac, method="L-BFGS-B", options={"maxiter": 3})
    return OptimizeResult(x=res.x, fun=-123.0, nit=7, success=True)


def _reporter(fun, x0, jac, callback, **kwargs):
    """A custom solver that reports two iterations through the callback."""
    x = np.array(x0)
    for _ in range(2):
        x = x - 0.1 * jac(x)
        callback(OptimizeResult(x=x, fun=fun(x)))
    return OptimizeResult(x=x, fun=0.0, nit=99, success=True)


def _lying_reporter(fun, x0, jac, callback, **kwargs):
    """A custom solver whose callback reports a cost it did not reach."""
    x = np.array(x0) - 0.1 * jac(x0)
    callback(OptimizeResult(x=x, fun=-5.0))
    return OptimizeResult(x=x, success=True)


@pytest.mark.parametrize(
    "solver, n_iter", [(_liar, 0), (_reporter, 2), (_lying_reporter, 1)]
)
def test_a_custom_solvers_own_numbers_are_not_trusted(solver, n_iter):
    est = _fit(BackpropRegressor(**SMALL, solver=solver), X, YR)
    assert est.n_iter_ == len(est.loss_curve_) == n_iter
    assert est.loss_ == pytest.approx(_cost(est, X, YR), rel=1e-12)
    assert min(est.loss_curve_, default=0.0) >= 0.0


def test_a_custom_solver_returning_nan_weights_says_so():
    def nan_solver(fun, x0, **kwargs):
        return OptimizeResult(x=np.full_like(x0, np.nan), fun=1.0, success=True)

    est = BackpropRegressor(**SMALL, solver=nan_solver)
    messages = _warnings_of_fit(est, X, YR)
    assert any("solver returned non-finite parameters (nan)" in m for m in messages)
    assert not any("(1.0)" in m for m in messages)
    np.testing.assert_array_equal(_theta(est), init_params((3, 3, 1), random_state=0))


# -- item 11: clear errors -----------------------------------------------------------
RESERVED = ["callback", "bounds", "jac", "hess", "hessp", "fun", "x0", "args"]


@pytest.mark.parametrize("solver", ["L-BFGS-B", "trust-ncg", "COBYLA", _liar])
@pytest.mark.parametrize("key", [*RESERVED, "constraints"])
def test_solver_options_may_not_set_minimizes_own_arguments(solver, key):
    est = copy.deepcopy(FITTED_REG)
    before = copy.deepcopy(est)
    est.set_params(solver=solver, solver_options={key: None})
    with pytest.raises(ValueError, match=f"solver_options may not set \\['{key}'\\]"):
        est.fit(X, YR)
    est.set_params(solver="L-BFGS-B", solver_options=None)
    _same_state(est, before)


@pytest.mark.parametrize(
    "solver, options",
    [
        ("L-BFGS-B", {"maxiter": "many"}),
        ("L-BFGS-B", {"gtol": "x"}),
        ("SLSQP", {"maxiter": None}),
        ("BFGS", {"norm": "x"}),
        ("trust-ncg", {"initial_trust_radius": -1.0}),
        ("trust-ncg", {"max_trust_radius": 0}),
        ("Nelder-Mead", {"initial_simplex": [[0.0]]}),
        ("Powell", {"direc": np.ones(3)}),
    ],
    ids=repr,
)
def test_bad_solver_option_values_are_named(solver, options):
    est = BackpropRegressor(**SMALL, solver=solver, solver_options=options)
    with pytest.raises(ValueError, match=f"{solver} failed with solver_options="):
        est.fit(X, YR)
    assert not hasattr(est, "coefs_")


def test_a_failing_callback_is_not_blamed_on_the_solver_options():
    est = BackpropRegressor(**SMALL, solver_options={"maxcor": 3}, callback=_raise)
    with pytest.raises(ValueError, match="^callback failed$"):
        est.fit(X, YR)


BAD_RETURNS = {
    "None": (None, TypeError, "must return a scipy.optimize.OptimizeResult"),
    "dict-without-x": ({"fun": 1.0}, TypeError, "holding the parameters x"),
    "x-wrong-shape": ({"x": np.zeros(3)}, ValueError, r"x of shape \(3,\)"),
    "x-strings": ({"x": np.array(["a"] * 16)}, ValueError, "real parameters"),
    "tuple": ((np.zeros(16), 1.0), TypeError, "got tuple"),
}


@pytest.mark.parametrize("case", list(BAD_RETURNS))
def test_a_custom_solvers_bad_result_is_named(case):
    value, error, match = BAD_RETURNS[case]
    est = BackpropRegressor(**SMALL, solver=lambda fun, x0, **kwargs: value)
    with pytest.raises(error, match=match):
        est.fit(X, YR)
    assert not hasattr(est, "coefs_")


def test_a_custom_solver_calling_back_without_x_is_named():
    def no_x(fun, x0, callback, **kwargs):
        callback(OptimizeResult(fun=1.0))

    with pytest.raises(TypeError, match="callback without the parameters x"):
        BackpropRegressor(**SMALL, solver=no_x).fit(X, YR)


def test_a_custom_solver_may_return_a_plain_dict():
    est = _fit(
        BackpropRegressor(**SMALL, solver=lambda fun, x0, **kw: {"x": x0 * 0.5}),
        X,
        YR,
    )
    np.testing.assert_array_equal(
        _theta(est), init_params((3, 3, 1), random_state=0) * 0.5
    )


def _validation_split(sizes, validation_fraction):
    """The rows an early-stopping fit with random_state=0 holds out: its
    RandomState first draws the initial weights, then the split."""
    rng = np.random.RandomState(0)
    init_params(sizes, "relu", rng)
    return train_test_split(
        np.arange(len(X)), random_state=rng, test_size=validation_fraction
    )


@pytest.mark.parametrize("zero", ["held-out", "training"])
def test_early_stopping_with_zero_weight_rows_says_so(zero):
    train, held_out = _validation_split((3, 3, 1), 0.2)
    sw = np.ones(len(X))
    sw[held_out if zero == "held-out" else train] = 0.0
    est = BackpropRegressor(**SMALL, early_stopping=True, validation_fraction=0.2)
    with pytest.raises(ValueError, match=f"early_stopping: the {zero}.*zero total"):
        est.fit(X, YR, sample_weight=sw)
    assert not hasattr(est, "coefs_")
    # The split is the fit's own: with those rows weighted, it trains.
    sw[held_out if zero == "held-out" else train] = 1e-3
    _fit(est, X, YR, sample_weight=sw)


@pytest.mark.parametrize("Estimator", [BackpropRegressor, BackpropClassifier])
def test_dask_input_with_no_rows_is_refused_clearly(Estimator):
    est = Estimator(**SMALL)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        est.fit(_dask(X[:0]), _dask(Y[:0]))


@pytest.mark.parametrize(
    "sizes", [(2**62,), (2**31, 2**31), (2**40, 2**40, 2**40)], ids=repr
)
def test_absurd_layer_sizes_are_refused_clearly(sizes):
    with pytest.raises(ValueError, match="more than an array can hold"):
        BackpropClassifier(hidden_layer_sizes=sizes).fit(X, Y)


# -- item 12: which weights early stopping kept ------------------------------------
def test_divergence_with_early_stopping_names_the_weights_kept():
    seen = []
    est = BackpropRegressor(
        hidden_layer_sizes=(8,),
        activation="identity",
        solver="gd",
        learning_rate_init=0.3,
        momentum=0.9,
        early_stopping=True,
        alpha=1e-4,
        max_iter=100,
        random_state=0,
        callback=seen.append,
    )
    X_ = RNG.normal(size=(60, 3))
    messages = _warnings_of_fit(est, X_, X_[:, 0] - 2 * X_[:, 2])
    (message,) = [m for m in messages if "non-finite" in m]
    best = int(np.argmax(est.validation_scores_))
    assert (
        f"the parameters with the best validation score "
        f"({est.validation_scores_[best]:.6g}, iteration {best + 1}) were kept"
        in message
    )
    assert "last parameters with a finite loss" not in message
    np.testing.assert_array_equal(_theta(est), seen[best].x)


# -- concurrent fits in threads ------------------------------------------------------
CONCURRENT = [
    lambda: BackpropClassifier(**SMALL),
    lambda: BackpropClassifier(**SMALL, solver="trust-ncg"),
    lambda: BackpropClassifier(**SMALL, solver="gd", batch_size=8),
    lambda: BackpropClassifier(**SMALL, early_stopping=True),
    lambda: BackpropClassifier(**SMALL, class_weight="balanced"),
    lambda: BackpropClassifier(**SMALL, solver_options={"bogus": 1}),  # fails
]


def _fit_or_error(make, rng_seed):
    est = make().set_params(random_state=np.random.RandomState(rng_seed))
    try:
        est.fit(X, Y3, sample_weight=SW)
    except ValueError as exc:
        return est, exc
    return est, None


# warnings.catch_warnings is not thread-safe: filter for the whole test.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_concurrent_fits_in_threads_match_serial_fits():
    serial = [_fit_or_error(make, i) for i, make in enumerate(CONCURRENT)]
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(_fit_or_error, make, i) for i, make in enumerate(CONCURRENT)
        ]
        threaded = [f.result() for f in futures]
    for (a, error_a), (b, error_b) in zip(serial, threaded, strict=True):
        assert (error_a is None) == (error_b is None)
        if error_a is None:
            np.testing.assert_allclose(_theta(b), _theta(a), rtol=1e-9, atol=1e-12)
            assert b.n_iter_ == a.n_iter_ == len(b.loss_curve_)
        else:
            assert not hasattr(b, "coefs_")
            # The failed fit left its RandomState as it found it.
            assert b.random_state.randint(2**31) == np.random.RandomState(5).randint(
                2**31
            )
