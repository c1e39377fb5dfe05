"""Reliability: bad input, divergence, interruption and concurrency.

* Every bad input or setting gets a clear error naming the parameter or the
  problem, and a failing ``fit``/``partial_fit`` leaves a fitted estimator
  exactly as it was (its whole ``__dict__``, compared deeply).
* Gradient descent that blows up stops with the last finite parameters and a
  warning; no solver returns non-finite weights silently; extreme scales
  raise no overflow warnings.
* Ctrl-C (``KeyboardInterrupt``) leaves a usable model and a warning.
* One fitted model predicts from many threads as it does serially.
"""

import copy
import types
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    init_params,
    pack_params,
)
from skbackprop._training.objective import InMemoryObjective as _Objective

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
Y3 = np.digitize(X[:, 1], [-0.5, 0.5])
YR = X[:, 0] - 2 * X[:, 2] + 0.1
YC = RNG.poisson(np.exp(0.5 * X[:, 0])).astype(float)
ONES = np.ones(len(X))


def _with(X=X, row=0, col=0, value=np.nan):
    X = np.array(X, dtype=float)
    X[row, col] = value
    return X


# -- deep comparison of fitted state ----------------------------------------------
_FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, type)


def assert_same_state(actual, expected, path="estimator"):
    """Deep equality of two attribute trees; arrays compare bit for bit."""
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), path
        assert actual.dtype == expected.dtype, path
        assert actual.shape == expected.shape, path
        equal_nan = expected.dtype.kind in "fc"
        assert np.array_equal(actual, expected, equal_nan=equal_nan), path
    elif isinstance(expected, dict):
        assert type(actual) is type(expected), path
        assert list(actual) == list(expected), path
        for key in expected:
            assert_same_state(actual[key], expected[key], f"{path}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert type(actual) is type(expected), path
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_state(a, e, f"{path}[{i}]")
    elif hasattr(expected, "__dict__") and not isinstance(expected, _FUNCTIONS):
        assert type(actual) is type(expected), path
        assert_same_state(vars(actual), vars(expected), f"{path}.__dict__")
    elif isinstance(expected, float) and np.isnan(expected):
        assert isinstance(actual, float) and np.isnan(actual), path
    else:
        assert type(actual) is type(expected), path
        assert actual == expected, path


def test_assert_same_state_sees_small_changes():
    est = _fitted("gd-clf")
    before = copy.deepcopy(est.__dict__)
    assert_same_state(est.__dict__, before)
    mutations = [
        lambda e: e.coefs_[0].__setitem__((0, 0), e.coefs_[0][0, 0] + 1e-15),
        lambda e: e.loss_curve_.append(1.0),
        lambda e: setattr(e._optimizer, "t", e._optimizer.t + 1),
        lambda e: setattr(e, "n_iter_", e.n_iter_ + 1),
        lambda e: setattr(e, "classes_", e.classes_.astype(float)),
        lambda e: e._label_binarizer.classes_.__setitem__(0, 7),
    ]
    for mutate in mutations:
        changed = copy.deepcopy(est)
        mutate(changed)
        with pytest.raises(AssertionError):
            assert_same_state(changed.__dict__, before)


# -- fitted estimators to break ---------------------------------------------------
def _fitted(kind):
    """A fitted estimator: ``fit`` for SciPy, two ``partial_fit`` calls for gd."""
    small = {"hidden_layer_sizes": (3,), "random_state": 0, "max_iter": 15}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "clf":
            return BackpropClassifier(**small).fit(X, Y)
        if kind == "reg":
            return BackpropRegressor(**small).fit(X, YR)
        if kind == "poisson":
            return BackpropRegressor(**small, loss="poisson").fit(X, YC)
        if kind == "gd-clf":
            est = BackpropClassifier(**small, solver="gd", momentum=0.9)
            est.partial_fit(X, Y3, classes=[0, 1, 2])
            return est.partial_fit(X, Y3)
        if kind == "gd-reg":
            est = BackpropRegressor(**small, solver="gd", momentum=0.5)
            return est.partial_fit(X, YR).partial_fit(X, YR)
    raise ValueError(kind)  # pragma: no cover


def _boom(state):
    raise RuntimeError("boom from the callback")


# (id, fitted kind, parameters set before the call, the call, error, match).
# Every call runs on an estimator that was fitted before; it must fail with
# the error and leave that estimator exactly as it was.
FIT = "fit"
BAD_FIT = [
    # -- the data -----------------------------------------------------------
    ("nan-in-X", "clf", {}, (FIT, _with(), Y), ValueError, "Input X contains NaN"),
    (
        "inf-in-X",
        "reg",
        {},
        (FIT, _with(value=np.inf), YR),
        ValueError,
        "Input X contains infinity",
    ),
    (
        "nan-in-sparse-X",
        "clf",
        {},
        (FIT, sp.csr_matrix(_with()), Y),
        ValueError,
        "Input X contains NaN",
    ),
    ("nan-in-y", "reg", {}, (FIT, X, _with(YR[:, None])[:, 0]), ValueError, "y.*NaN"),
    (
        "inf-in-y",
        "reg",
        {},
        (FIT, X, _with(YR[:, None], value=-np.inf)[:, 0]),
        ValueError,
        "Input y contains infinity",
    ),
    ("nan-label", "clf", {}, (FIT, X, _with(Y[:, None])[:, 0]), ValueError, "NaN"),
    ("empty-X", "clf", {}, (FIT, X[:0], Y[:0]), ValueError, r"0 sample\(s\)"),
    ("1d-X", "reg", {}, (FIT, X[:, 0], YR), ValueError, "Expected 2D array"),
    ("3d-X", "clf", {}, (FIT, X[:, :, None], Y), ValueError, "dim 3"),
    (
        "X-y-lengths",
        "clf",
        {},
        (FIT, X, Y[:-1]),
        ValueError,
        r"inconsistent numbers of samples: \[40, 39\]",
    ),
    (
        "strings-in-X",
        "clf",
        {},
        (FIT, X.astype(str).astype(object) + "x", Y),
        ValueError,
        "could not convert string to float",
    ),
    ("complex-X", "reg", {}, (FIT, X + 1j, YR), ValueError, "Complex data"),
    (
        "ragged-X",
        "clf",
        {},
        (FIT, [[1.0, 2.0], [3.0]], [0, 1]),
        ValueError,
        "inhomogeneous",
    ),
    (
        "single-class",
        "clf",
        {},
        (FIT, X, np.zeros(len(X), int)),
        ValueError,
        "only one class",
    ),
    (
        "continuous-y-to-classifier",
        "clf",
        {},
        (FIT, X, YR),
        ValueError,
        "Unknown label type: 'continuous'.*use BackpropRegressor",
    ),
    (
        "continuous-multioutput-y-to-classifier",
        "clf",
        {},
        (FIT, X, np.c_[YR, YR]),
        ValueError,
        "continuous-multioutput",
    ),
    (
        "negative-poisson-targets",
        "poisson",
        {},
        (FIT, X, YC - 1),
        ValueError,
        "negative.*loss='poisson'",
    ),
    # -- the sample weights ---------------------------------------------------
    (
        "weights-length",
        "clf",
        {},
        (FIT, X, Y, ONES[:5]),
        ValueError,
        r"sample_weight.shape == \(5,\), expected \(40,\)",
    ),
    (
        "weights-2d",
        "reg",
        {},
        (FIT, X, YR, np.ones((40, 2))),
        ValueError,
        "Sample weights must be 1D",
    ),
    (
        "weights-nan",
        "reg",
        {},
        (FIT, X, YR, _with(ONES[:, None])[:, 0]),
        ValueError,
        "sample_weight contains NaN",
    ),
    (
        "weights-negative",
        "clf",
        {},
        (FIT, X, Y, ONES - 2 * (np.arange(40) == 3)),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    (
        "weights-all-zero",
        "reg",
        {},
        (FIT, X, YR, 0 * ONES),
        ValueError,
        "Sample weights must contain at least one non-zero",
    ),
    (
        "weights-zero-after-class-weight",
        "clf",
        {"class_weight": {0: 0.0, 1: 1.0}},
        (FIT, X, Y, (Y == 0).astype(float)),
        ValueError,
        r"sample weights \(times the class weights\) sum to zero",
    ),
    (
        "class-weight-unknown-class",
        "clf",
        {"class_weight": {5: 1.0}},
        (FIT, X, Y),
        ValueError,
        "not in class_weight",
    ),
    # -- the architecture -------------------------------------------------------
    *[
        (
            f"layer-size-{size!r}",
            "clf",
            {"hidden_layer_sizes": size},
            (FIT, X, Y),
            ValueError,
            "hidden_layer_sizes must hold positive integers",
        )
        for size in [(2.5,), ("10",), (0,), (4, -2), (True,), [3, None]]
    ],
    *[
        (
            f"layer-size-{size!r}",
            "reg",
            {"hidden_layer_sizes": size},
            (FIT, X, YR),
            InvalidParameterError,
            "'hidden_layer_sizes' parameter",
        )
        for size in [0, -1, 2.0, "10"]
    ],
    (
        "warm-start-new-architecture",
        "clf",
        {"warm_start": True, "hidden_layer_sizes": (4,)},
        (FIT, X, Y),
        ValueError,
        r"layer sizes changed from \(3, 3, 1\) to \(3, 4, 1\)",
    ),
    (
        "warm-start-new-classes",
        "clf",
        {"warm_start": True},
        (FIT, X, Y + 1),
        ValueError,
        "warm_start can only be used where `y` has the same classes",
    ),
    (
        "warm-start-new-features",
        "reg",
        {"warm_start": True},
        (FIT, X[:, :2], YR),
        ValueError,
        "X has 2 features, but BackpropRegressor is expecting 3",
    ),
    (
        "warm-start-new-outputs",
        "reg",
        {"warm_start": True},
        (FIT, X, np.c_[YR, YR]),
        ValueError,
        r"layer sizes changed from \(3, 3, 1\) to \(3, 3, 2\)",
    ),
    # -- the hyperparameters ------------------------------------------------------
    *[
        (
            f"{name}={value!r}",
            kind,
            {name: value},
            (FIT, X, Y if kind == "clf" else YR),
            InvalidParameterError,
            f"The '{name}' parameter",
        )
        for kind, name, value in [
            ("clf", "alpha", -1e-3),
            ("clf", "solver", "adam"),
            ("reg", "solver", "L-BFGS"),
            ("clf", "activation", "softmax"),
            ("reg", "learning_rate_init", 0.0),
            ("reg", "learning_rate_init", -0.1),
            ("clf", "momentum", 1.0),
            ("clf", "validation_fraction", 0.0),
            ("reg", "validation_fraction", 1.0),
            ("clf", "max_iter", 0),
            ("reg", "max_fun", 0),
            ("clf", "batch_size", 0),
            ("reg", "chunk_size", 0),
            ("clf", "tol", -1.0),
            ("reg", "n_iter_no_change", 0),
            ("clf", "learning_rate", "optimal"),
            ("reg", "power_t", -0.5),
            ("clf", "callback", 3),
            ("reg", "loss", "hinge"),
            ("clf", "class_weight", "auto"),
            ("reg", "curvature", "fisher"),
            ("clf", "solver_options", [("maxcor", 5)]),
            ("reg", "random_state", "seed"),
            ("clf", "early_stopping", "yes"),
        ]
    ],
    (
        "unknown-solver-option",
        "clf",
        {"solver_options": {"maxcorr": 5}},
        (FIT, X, Y),
        ValueError,
        r"solver_options .*not all accepted by SciPy's 'L-BFGS-B'.*maxcorr",
    ),
    (
        "solver-options-with-gd",
        "reg",
        {"solver": "gd", "solver_options": {"maxiter": 5}},
        (FIT, X, YR),
        ValueError,
        "solver_options .*do not apply to solver='gd'",
    ),
    (
        "curvature-with-lbfgs",
        "reg",
        {"curvature": "gauss-newton"},
        (FIT, X, YR),
        ValueError,
        r"curvature='gauss-newton' needs a solver that uses Hessian-vector",
    ),
    (
        "curvature-with-gd",
        "clf",
        {"curvature": "gauss-newton", "solver": "gd"},
        (FIT, X, Y),
        ValueError,
        "curvature='gauss-newton'",
    ),
    (
        "early-stopping-too-few-samples",
        "clf",
        {"early_stopping": True, "validation_fraction": 0.02},
        (FIT, X, Y),
        ValueError,
        "validation_fraction=0.02",
    ),
    (
        "early-stopping-one-validation-sample",
        "reg",
        {"early_stopping": True, "validation_fraction": 0.02},
        (FIT, X, YR),
        ValueError,
        r"validation_fraction=0.02 leaves 1 sample\(s\) for validation",
    ),
    # -- failures during training -------------------------------------------------
    (
        "callback-raises",
        "clf",
        {"callback": _boom},
        (FIT, X, Y),
        RuntimeError,
        "boom from the callback",
    ),
    (
        "gd-callback-raises",
        "reg",
        {"callback": _boom, "solver": "gd", "warm_start": True},
        (FIT, X, YR),
        RuntimeError,
        "boom from the callback",
    ),
]


PF = "partial_fit"
BAD_PARTIAL_FIT = [
    ("nan-in-X", "gd-clf", {}, (PF, _with(), Y3), ValueError, "Input X contains NaN"),
    (
        "inf-in-y",
        "gd-reg",
        {},
        (PF, X, _with(YR[:, None], value=np.inf)[:, 0]),
        ValueError,
        "Input y contains infinity",
    ),
    ("empty-X", "gd-reg", {}, (PF, X[:0], YR[:0]), ValueError, r"0 sample\(s\)"),
    ("1d-X", "gd-clf", {}, (PF, X[:, 0], Y3), ValueError, "Expected 2D array"),
    (
        "new-features",
        "gd-clf",
        {},
        (PF, X[:, :2], Y3),
        ValueError,
        "X has 2 features, but BackpropClassifier is expecting 3",
    ),
    (
        "new-classes",
        "gd-clf",
        {},
        (PF, X, Y3 + 1),
        ValueError,
        "`y` has classes not in `self.classes_`",
    ),
    (
        "changed-classes-argument",
        "gd-clf",
        {},
        (PF, X, Y3, [0, 1, 2, 3]),
        ValueError,
        "is not the same as on last call to partial_fit",
    ),
    (
        "new-outputs",
        "gd-reg",
        {},
        (PF, X, np.c_[YR, YR]),
        ValueError,
        "layer sizes changed",
    ),
    (
        "continuous-y",
        "gd-clf",
        {},
        (PF, X, YR),
        ValueError,
        "Unknown label type: 'continuous'",
    ),
    (
        "weights-negative",
        "gd-reg",
        {},
        (PF, X, YR, -ONES),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    (
        "weights-length",
        "gd-reg",
        {},
        (PF, X, YR, ONES[1:]),
        ValueError,
        "sample_weight.shape",
    ),
    (
        "negative-alpha",
        "gd-reg",
        {"alpha": -1.0},
        (PF, X, YR),
        InvalidParameterError,
        "'alpha' parameter",
    ),
    (
        "changed-architecture",
        "gd-reg",
        {"hidden_layer_sizes": (2, 2)},
        (PF, X, YR),
        ValueError,
        r"layer sizes changed from \(3, 3, 1\) to \(3, 2, 2, 1\)",
    ),
    (
        "solver-options",
        "gd-clf",
        {"solver_options": {"maxiter": 3}},
        (PF, X, Y3),
        ValueError,
        "do not apply to solver='gd'",
    ),
    (
        "callback-raises-after-steps",
        "gd-clf",
        {"callback": _boom},
        (PF, X, Y3),
        RuntimeError,
        "boom from the callback",
    ),
    (
        "mini-batch-callback-raises",
        "gd-reg",
        {"callback": _boom, "batch_size": 7},
        (PF, X, YR),
        RuntimeError,
        "boom from the callback",
    ),
]


def _call(est, call):
    method, *args = call
    if method == PF and isinstance(est, BackpropClassifier) and len(args) == 3:
        X_, y_, classes = args
        return est.partial_fit(X_, y_, classes=classes)
    if method == PF and len(args) == 3:
        X_, y_, sw = args
        return est.partial_fit(X_, y_, sample_weight=sw)
    if len(args) == 3:
        X_, y_, sw = args
        return getattr(est, method)(X_, y_, sample_weight=sw)
    return getattr(est, method)(*args)


def _ids(cases):
    return [case[0] for case in cases]


def test_the_battery_is_large_and_distinct():
    names = _ids(BAD_FIT) + [f"pf-{name}" for name in _ids(BAD_PARTIAL_FIT)]
    assert len(names) == len(set(names))
    assert len(BAD_FIT) >= 30 and len(BAD_PARTIAL_FIT) >= 10


@pytest.mark.parametrize(
    "name, kind, params, call, error, match",
    BAD_FIT + BAD_PARTIAL_FIT,
    ids=_ids(BAD_FIT) + [f"pf-{name}" for name in _ids(BAD_PARTIAL_FIT)],
)
def test_bad_input_fails_clearly_and_keeps_the_fitted_state(
    name, kind, params, call, error, match
):
    est = _fitted(kind)
    reference = _outputs(est)
    original = est.get_params()
    est.set_params(**params)
    before = copy.deepcopy(est.__dict__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(error, match=match):
            _call(est, call)
    assert_same_state(est.__dict__, before)
    est.set_params(**original)
    for got, expected in zip(_outputs(est), reference, strict=True):
        assert np.array_equal(got, expected)


def _outputs(est):
    out = [est.predict(X)]
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X))
    return out


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_invalid_params_fail_on_a_fresh_estimator_without_fitting(kind):
    est = _fitted(kind)
    fresh = type(est)(alpha=-1.0)
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        fresh.fit(X, Y if kind == "clf" else YR)
    assert not hasattr(fresh, "coefs_") and not hasattr(fresh, "n_features_in_")


# -- partial_fit specifics ----------------------------------------------------------
def test_partial_fit_first_call_needs_classes():
    est = BackpropClassifier(solver="gd")
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, Y)
    assert not hasattr(est, "classes_") and not hasattr(est, "coefs_")


def test_partial_fit_needs_two_classes():
    est = BackpropClassifier(solver="gd")
    with pytest.raises(ValueError, match="`classes` must hold at least two classes"):
        est.partial_fit(X, np.zeros(len(X), int), classes=[0])
    assert vars(est) == vars(BackpropClassifier(solver="gd"))


@pytest.mark.parametrize("solver", ["L-BFGS-B", "CG", "trust-ncg"])
@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
def test_partial_fit_is_only_for_gradient_descent(Estimator, solver):
    est = Estimator(solver=solver)
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        est.partial_fit(X, Y)
    assert "only available for solver='gd'" in str(info.value.__cause__)
    assert hasattr(est.set_params(solver="gd"), "partial_fit")


# -- predict ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["clf", "reg", "gd-clf"])
def test_predict_with_wrong_number_of_features(kind):
    est = _fitted(kind)
    before = copy.deepcopy(est.__dict__)
    methods = ["predict"] + (["predict_proba"] if kind != "reg" else [])
    for method in methods:
        for bad in (X[:, :2], np.c_[X, X[:, 0]]):
            with pytest.raises(ValueError, match=f"X has {bad.shape[1]} features"):
                getattr(est, method)(bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(_with())
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.predict(X[0])
    assert_same_state(est.__dict__, before)


@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_predict_before_fit(Estimator, method):
    est = Estimator()
    if not hasattr(est, method):
        return
    args = (X, Y) if method == "score" else (X,)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(est, method)(*args)


# -- divergence ---------------------------------------------------------------------
def _finite_model(est):
    assert all(np.isfinite(a).all() for a in est.coefs_ + est.intercepts_)
    assert np.isfinite(est.loss_)


@pytest.mark.parametrize(
    "Estimator, y, loss",
    [
        (BackpropRegressor, YR, "squared_error"),
        (BackpropRegressor, YC, "poisson"),
        (BackpropClassifier, Y3, None),
    ],
)
@pytest.mark.parametrize("activation", ["relu", "identity", "tanh"])
def test_diverging_gradient_descent_stops_and_warns(
    Estimator, y, loss, activation, seed
):
    kwargs = {} if loss is None else {"loss": loss}
    seen = []
    est = Estimator(
        hidden_layer_sizes=(5,),
        activation=activation,
        solver="gd",
        momentum=0.9,
        learning_rate_init=1e3,
        max_iter=100,
        random_state=seed,
        callback=lambda state: seen.append(state.x),
        **kwargs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(ConvergenceWarning, match="smaller learning_rate_init"):
            est.fit(X * 10, y)
    _finite_model(est)
    assert est.n_iter_ < 100  # stopped early
    assert len(est.loss_curve_) == est.n_iter_ == len(seen)
    if est.loss_curve_:
        assert est.loss_ == est.loss_curve_[-1]  # the last finite loss
    assert np.isfinite(est.predict(X).astype(float)).all()


@pytest.mark.parametrize("batch_size", [None, 30])
def test_loss_blown_up_without_overflow_warns(batch_size, seed):
    # Steps far too large that never overflow: the fit ends with a finite but
    # useless loss, and says so.  Mini-batch descent compares with its first
    # batch's loss at the starting weights; full-batch with the full cost.
    rng = np.random.default_rng(seed)
    X_ = rng.normal(size=(300, 5))
    y_ = (X_[:, 0] + X_[:, 1] > 0).astype(int) + (X_[:, 2] > 0)
    est = BackpropClassifier(
        hidden_layer_sizes=(8,),
        solver="gd",
        batch_size=batch_size,
        learning_rate_init=100.0,
        max_iter=20,
        random_state=seed,
    )
    with pytest.warns(ConvergenceWarning, match="loss rose from") as record:
        est.fit(X_, y_)
    (message,) = [str(w.message) for w in record if "rose from" in str(w.message)]
    start = float(message.split()[5])
    assert 0.5 < start < 2.0  # about log(3), the loss of the initial weights
    assert est.loss_ > 2 * start
    _finite_model(est)


def test_divergence_keeps_the_last_finite_parameters(seed):
    # The callback sees every iterate with a finite loss; the loss of the
    # next one is not finite: the last one the callback saw is kept.
    seen = []
    est = BackpropRegressor(
        hidden_layer_sizes=(4,),
        activation="identity",
        solver="gd",
        learning_rate_init=5.0,
        max_iter=500,
        random_state=seed,
        callback=lambda state: seen.append((state.x, state.fun)),
    )
    with pytest.warns(ConvergenceWarning, match=r"non-finite \((inf|nan)\).*kept"):
        est.fit(X * 100, YR)
    assert 2 <= len(seen) == est.n_iter_ < 500
    assert np.array_equal(pack_params(est.coefs_, est.intercepts_), seen[-1][0])
    assert est.loss_ == seen[-1][1] == est.loss_curve_[-1]
    assert np.isfinite(est.loss_) and est.loss_ > 1e100  # useless, but finite


@pytest.mark.parametrize("solver", ["L-BFGS-B", "CG", "BFGS", "TNC", "trust-ncg"])
@pytest.mark.parametrize(
    "case", ["X*1e6-clf", "y*1e6", "poisson-huge-counts", "X*1e6-reg"]
)
def test_scipy_solvers_never_return_non_finite_weights(solver, case, seed):
    X_, y, Estimator, kwargs = {
        "X*1e6-clf": (X * 1e6, Y3, BackpropClassifier, {}),
        "y*1e6": (X, YR * 1e6, BackpropRegressor, {}),
        "poisson-huge-counts": (X, YC * 1e5, BackpropRegressor, {"loss": "poisson"}),
        "X*1e6-reg": (X * 1e6, YR, BackpropRegressor, {}),
    }[case]
    est = Estimator(
        hidden_layer_sizes=(4,), solver=solver, max_iter=20, random_state=seed, **kwargs
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_, y)
        _finite_model(est)
        for method in ("predict", "predict_proba"):
            if hasattr(est, method):
                out = getattr(est, method)(X_).astype(float)
                assert np.isfinite(out).all()


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("solver", ["L-BFGS-B", "gd"])
def test_extreme_feature_scales(activation, solver, seed):
    Xb = X * 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est, y in [
            (BackpropClassifier(), Y),
            (BackpropClassifier(), Y3),
            (BackpropRegressor(), YR),
            (BackpropRegressor(loss="poisson"), YC),
        ]:
            est.set_params(
                hidden_layer_sizes=(4,),
                activation=activation,
                solver=solver,
                max_iter=10,
                random_state=seed,
            )
            if est.get_params().get("loss") == "poisson" and activation in (
                "relu",
                "identity",
            ):
                # exp(z) of the Poisson output overflows already at the
                # starting parameters: nothing to train, a clear error.
                with pytest.raises(ValueError, match="non-finite.*Scale the inputs"):
                    est.fit(Xb, y)
                assert not hasattr(est, "coefs_")
                continue
            est.fit(Xb, y)
            assert all(np.isfinite(a).all() for a in est.coefs_ + est.intercepts_)
            assert np.isfinite(est.loss_)
            for X_new in (Xb, Xb * 1e3, -Xb):
                pred = est.predict(X_new)
                assert not np.isnan(pred.astype(float)).any()
                if hasattr(est, "predict_proba"):
                    proba = est.predict_proba(X_new)
                    assert np.isfinite(proba).all()
                    assert ((proba >= 0) & (proba <= 1)).all()
                    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# -- interruption ---------------------------------------------------------------
def _interrupt_at(k, seen):
    def callback(state):
        seen.append(state)
        if state.nit == k:
            raise KeyboardInterrupt

    return callback


@pytest.mark.parametrize(
    "solver", ["gd", "L-BFGS-B", "CG", "TNC", "BFGS", "Newton-CG", "trust-krylov"]
)
@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
def test_ctrl_c_in_the_callback_keeps_a_usable_model(Estimator, solver, seed):
    seen = []
    y = Y3 if Estimator is BackpropClassifier else YR
    est = Estimator(
        hidden_layer_sizes=(4,),
        solver=solver,
        max_iter=200,
        random_state=seed,
        callback=_interrupt_at(3, seen),
    )
    with pytest.warns(ConvergenceWarning, match=r"^Training interrupted by user\.$"):
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(seen) == 3
    assert np.array_equal(pack_params(est.coefs_, est.intercepts_), seen[-1].x)
    assert est.optimize_result_ is None
    assert est.loss_curve_ == [s.fun for s in seen]
    assert est.loss_ == pytest.approx(seen[-1].fun, rel=1e-12)
    _finite_model(est)
    assert est.predict(X).shape == (len(X),)
    # The model trains on from where it stopped.
    est.set_params(callback=None, warm_start=True, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    _finite_model(est)


@pytest.mark.parametrize("solver", ["gd", "L-BFGS-B", "CG", "TNC"])
@pytest.mark.parametrize("n_calls", [1, 5])
def test_ctrl_c_inside_the_objective_keeps_a_usable_model(
    solver, n_calls, monkeypatch, seed
):
    # Ctrl-C most often lands inside a cost evaluation.
    calls = {"n": 0}
    original = _Objective.cost_grad

    def cost_grad(self, theta):
        calls["n"] += 1
        if calls["n"] == n_calls:
            raise KeyboardInterrupt
        return original(self, theta)

    monkeypatch.setattr(_Objective, "cost_grad", cost_grad)
    seen = []
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver=solver,
        max_iter=100,
        random_state=seed,
        callback=seen.append,
    )
    with pytest.warns(ConvergenceWarning, match="Training interrupted by user"):
        est.fit(X, Y3)
    _finite_model(est)
    theta = pack_params(est.coefs_, est.intercepts_)
    assert est.n_iter_ == len(seen) < n_calls
    if seen and solver != "gd":  # the last accepted iterate
        assert np.array_equal(theta, seen[-1].x)
    elif seen:  # gradient descent keeps its current iterate, maybe one step on
        assert np.isfinite(theta).all()
        assert not np.array_equal(theta, seen[0].x)
    else:  # the initial parameters
        rng = np.random.RandomState(seed)
        assert np.array_equal(theta, init_params((3, 4, 3), "relu", rng))
    assert set(est.predict(X)) <= {0, 1, 2}


def test_ctrl_c_keeps_the_best_parameters_with_early_stopping(seed):
    seen = []
    est = BackpropClassifier(
        hidden_layer_sizes=(4,),
        solver="gd",
        learning_rate_init=0.5,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=50,
        max_iter=200,
        random_state=seed,
        callback=_interrupt_at(12, seen),
    )
    with pytest.warns(ConvergenceWarning, match="Training interrupted by user"):
        est.fit(X, Y3)
    scores = [s.validation_score for s in seen]
    best = int(np.argmax(scores))  # the first of the best
    assert est.best_validation_score_ == scores[best]
    assert np.array_equal(pack_params(est.coefs_, est.intercepts_), seen[best].x)


def test_ctrl_c_during_partial_fit():
    est = _fitted("gd-clf")
    seen = []
    est.set_params(callback=_interrupt_at(1, seen))
    with pytest.warns(ConvergenceWarning, match="Training interrupted by user"):
        est.partial_fit(X, Y3)
    assert est.n_iter_ == 1  # the iterations of this call, as scikit-learn's
    assert np.array_equal(pack_params(est.coefs_, est.intercepts_), seen[-1].x)


# -- concurrency ------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [None, 37])
def test_one_model_predicts_from_many_threads(chunk_size, seed):
    rng = np.random.default_rng(seed + 1)
    X_big = rng.normal(size=(300, 3))
    y_big = np.digitize(X_big[:, 0] + X_big[:, 1], [-1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = BackpropClassifier(
            hidden_layer_sizes=(16, 8),
            activation="tanh",
            max_iter=30,
            random_state=seed,
            chunk_size=chunk_size,
        ).fit(X_big, y_big)
        reg = BackpropRegressor(
            hidden_layer_sizes=(16,),
            max_iter=30,
            random_state=seed,
            chunk_size=chunk_size,
        ).fit(X_big, X_big @ [1.0, -2.0, 0.5])
    inputs = [rng.normal(size=(rng.integers(1, 400), 3)) for _ in range(24)]
    tasks = [
        (method, i)
        for i in range(len(inputs))
        for method in (clf.predict, clf.predict_proba, reg.predict)
    ] * 3
    serial = {(m, i): m(inputs[i]) for m, i in tasks}
    before = copy.deepcopy(clf.__dict__)

    def run(task):
        method, i = task
        return task, method(inputs[i])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, tasks))
    assert len(results) == len(tasks)
    for task, out in results:
        assert out.dtype == serial[task].dtype
        assert np.array_equal(out, serial[task])
    assert_same_state(clf.__dict__, before)
