"""Reliability, third round: concurrency of fit and predict, the argument
checks of ``score``, the engine functions and the gradient check, error
bars at extreme scales and in saved files (issue #25)."""

import copy
import pickle
import sys
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skbackprop import BackpropClassifier, BackpropRegressor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y3 = np.digitize(X[:, 0], [-0.5, 0.5])
Y2 = (X[:, 1] > 0).astype(int)
YR = X[:, 0] - 2 * X[:, 2]
X_NAN = X.copy()
X_NAN[0, 0] = np.nan


# Short fits: convergence is not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _clf(**params):
    params = {"hidden_layer_sizes": (4,), "max_iter": 15, "random_state": 0} | params
    return BackpropClassifier(**params)


# -- 2. predict while a refit runs or is refused -----------------------------------
def test_predict_during_refused_refits_sees_the_fitted_model():
    """A refit refused for a NaN in X never shows another thread a half state."""
    clf = _clf().fit(X, Y3)
    expected = clf.predict_proba(X[:7])
    errors, outputs, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                outputs.append(clf.predict_proba(X[:7]))
            except Exception as exc:  # noqa: BLE001 - any error is the bug
                errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # interleave the threads finely
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        refused = 0
        while refused < 2000 or len(outputs) < 200:
            with pytest.raises(ValueError, match="NaN"):
                clf.fit(X_NAN, Y3)
            refused += 1
            if refused > 100_000:  # pragma: no cover - a starved reader
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch)
    assert not errors, f"{len(errors)} failed predictions, e.g. {errors[0]!r}"
    assert len(outputs) >= 200
    assert all(np.array_equal(out, expected) for out in outputs)


def test_prediction_during_a_fit_sees_the_previous_model():
    """Inside a refit (here, from its callback) the estimator still predicts
    with the complete previous model, though the new one has other classes."""
    clf = _clf().fit(X, Y3)
    before = clf.predict_proba(X)
    seen = []

    def callback(state):
        seen.append((clf.predict_proba(X), clf.classes_.tolist(), clf.score(X, Y3)))

    clf.set_params(callback=callback, max_iter=3)
    clf.fit(X, Y2)
    assert len(seen) == 3
    for proba, classes, _ in seen:
        assert classes == [0, 1, 2]
        assert np.array_equal(proba, before)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_error_bars_during_a_fit_come_from_the_previous_model():
    reg = BackpropRegressor((4,), alpha=0.1, max_iter=30, random_state=0).fit(X, YR)
    mean, std = reg.predict(X, return_std=True)
    seen = []
    reg.set_params(
        callback=lambda state: seen.append(reg.predict(X, return_std=True)),
        max_iter=2,
    )
    reg.fit(X[:, :2], YR)  # two features now
    assert len(seen) == 2
    for m, s in seen:
        assert np.array_equal(m, mean) and np.array_equal(s, std)
    assert reg.n_features_in_ == 2


def test_a_successful_fit_replaces_the_attribute_dict_and_keeps_the_old_one():
    """Readers holding the old dict keep a complete state: a fit replaces
    ``__dict__`` and edits neither it nor the objects in it."""
    clf = _clf().fit(X, Y3)
    old = clf.__dict__
    frozen = pickle.dumps(old)
    clf.fit(X[:, :2], Y2)
    assert clf.__dict__ is not old
    assert pickle.dumps(old) == frozen
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_NAN, Y3)
    current = clf.__dict__
    snapshot = pickle.dumps(current)
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_NAN, Y3)
    assert clf.__dict__ is current  # a refused fit touches nothing
    assert pickle.dumps(current) == snapshot


def test_parameters_set_during_a_fit_are_kept():
    clf = _clf(max_iter=2)
    clf.set_params(callback=lambda state: clf.set_params(tol=0.5))
    clf.fit(X, Y3)
    assert clf.tol == 0.5
    assert hasattr(clf, "coefs_")


# -- 3. one fit at a time ---------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_fit_from_its_own_callback_is_refused(method):
    clf = _clf(solver="gd", max_iter=3).fit(X, Y3)
    before = pickle.dumps(clf)
    inner = {}

    def callback(state):
        kwargs = {"classes": [0, 1, 2]} if method == "partial_fit" else {}
        try:
            getattr(clf, method)(X, Y3, **kwargs)
        except RuntimeError as exc:
            inner["error"] = exc
            raise

    clf.set_params(callback=callback)
    with pytest.raises(RuntimeError, match="already being fitted"):
        clf.fit(X, Y2)
    assert "from its own callback" in str(inner["error"])
    clf.set_params(callback=None)
    assert pickle.dumps(clf) == before  # the outer fit failed: nothing changed
    clf.fit(X, Y2)  # and the estimator fits again afterwards
    assert clf.classes_.tolist() == [0, 1]


@pytest.mark.parametrize(
    "second", ["fit", "partial_fit", "warm_start", "pickle", "clone", "predict"]
)
def test_a_second_fit_from_another_thread_is_refused(second):
    """While one thread fits, another may predict, pickle or clone the
    estimator (and gets the previous state), but not fit it."""
    clf = _clf(solver="gd", max_iter=5).fit(X, Y3)
    previous = clf.predict(X)
    inside, release = threading.Event(), threading.Event()

    def callback(state):
        inside.set()
        assert release.wait(timeout=30)

    clf.set_params(callback=callback, max_iter=2)
    first = threading.Thread(target=clf.fit, args=(X, Y2))
    first.start()
    try:
        assert inside.wait(timeout=30)
        if second in ("fit", "partial_fit", "warm_start"):
            if second == "warm_start":
                clf.set_params(warm_start=True)
            call = clf.partial_fit if second == "partial_fit" else clf.fit
            with pytest.raises(RuntimeError, match="already being fitted"):
                call(X, Y3)
        elif second == "pickle":
            # (deepcopy pickles the state; the callback is a local function)
            assert copy.deepcopy(clf).classes_.tolist() == [0, 1, 2]
        elif second == "clone":
            fresh = clone(clf)
            assert not hasattr(fresh, "coefs_")
            assert fresh.get_params()["max_iter"] == 2
            fresh.set_params(callback=None).fit(X, Y3)  # a copy fits
        else:
            assert np.array_equal(clf.predict(X), previous)
    finally:
        release.set()
        first.join()
    assert clf.classes_.tolist() == [0, 1]  # the first fit completed


def test_two_estimators_fit_at_once_from_two_threads():
    est = [_clf(), _clf(random_state=1)]
    threads = [threading.Thread(target=e.fit, args=(X, Y3)) for e in est]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in est:
        assert e.predict(X).shape == (len(X),)


def test_the_fit_guard_is_not_state():
    """The guard lives outside the estimator: nothing of it is pickled,
    cloned or kept after a fit, failing or not."""
    clf = _clf()
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X_NAN, Y3)
    assert vars(clf) == vars(_clf())
    clf.fit(X, Y3)
    assert not [k for k in vars(clf) if "fitting" in k.lower() or "lock" in k.lower()]
    from skbackprop import _transaction

    assert not _transaction._FITTING


# -- 4. Dask score and fit check their input as in memory -----------------------------
def _dask(a, rows=15):
    da = pytest.importorskip("dask.array")
    if a is None or np.ndim(a) == 0:
        return a
    return da.from_array(np.asarray(a), chunks=(rows,) + np.shape(a)[1:])


@pytest.fixture(scope="module")
def fitted():
    reg2 = BackpropRegressor((4,), max_iter=15, random_state=0)
    return {
        "clf": _clf().fit(X, Y2),
        "clf3": _clf().fit(X, Y3),
        "reg": BackpropRegressor((4,), max_iter=15, random_state=0).fit(X, YR),
        "reg2": reg2.fit(X, np.c_[YR, X[:, 1]]),
    }


def _with_nan(a, value=np.nan, at=3):
    a = np.array(a, dtype=float)
    a.flat[at] = value
    return a


ZERO_W = np.zeros(len(X))
SCORE_ERRORS = {
    "y-nan-reg": ("reg", _with_nan(YR), None),
    "y-inf-reg": ("reg", _with_nan(YR, np.inf), None),
    "y-nan-clf": ("clf", _with_nan(Y2), None),
    "y-2-columns-reg": ("reg", np.c_[YR, YR], None),
    "y-1-column-reg2": ("reg2", YR, None),
    "y-2-columns-clf": ("clf", np.c_[Y2, Y2], None),
    "y-strings-clf": ("clf", np.where(Y2, "a", "b"), None),
    "y-strings-reg": ("reg", np.where(Y2, "1.5", "b"), None),
    "y-continuous-clf": ("clf3", YR, None),
    "y-3-d-reg": ("reg", YR[:, None, None], None),
    "y-0-columns-reg": ("reg", np.empty((len(X), 0)), None),
    "y-0-columns-clf": ("clf", np.empty((len(X), 0)), None),
    "y-complex-reg": ("reg", YR + 1j, None),
    "w-zero-clf": ("clf", Y2, ZERO_W),
    "w-zero-reg": ("reg", YR, ZERO_W),
    "w-nan-clf": ("clf", Y2, _with_nan(np.ones(len(X)))),
    "w-nan-reg": ("reg", YR, _with_nan(np.ones(len(X)))),
    "w-inf-reg": ("reg", YR, _with_nan(np.ones(len(X)), np.inf)),
    "w-2-d-reg": ("reg", YR, np.ones((len(X), 2))),
}


@pytest.mark.parametrize("case", sorted(SCORE_ERRORS))
def test_dask_score_refuses_what_memory_refuses(fitted, case):
    """The same error, with the same message, as the in-memory score."""
    name, y, sw = SCORE_ERRORS[case]
    est = fitted[name]
    with warnings.catch_warnings():
        # scikit-learn's type_of_target casts NaN labels to int on the way.
        warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
        with pytest.raises(ValueError) as memory:
            est.score(X, y, sample_weight=sw)
        with pytest.raises(ValueError) as dask:
            est.score(_dask(X), _dask(y), sample_weight=_dask(sw))
    assert type(dask.value) is type(memory.value)
    # The first line: a complex y's message goes on with the offending values.
    assert str(dask.value).split("\n")[0] == str(memory.value).split("\n")[0]


@pytest.mark.parametrize(
    "name, y, sw",
    [
        ("clf3", Y3, None),
        ("clf3", Y3, np.arange(len(X)) % 4),  # a first block of zero weights
        ("reg", YR, None),
        ("reg", YR, (np.arange(len(X)) >= 15) * 2.5),
        ("reg2", np.c_[YR, X[:, 1]], RNG.uniform(0.1, 3, len(X))),
        ("reg", YR * 1e8 + 1e12, None),  # a mean far from zero: no cancellation
    ],
)
def test_dask_score_equals_in_memory(fitted, name, y, sw):
    est = fitted[name]
    expected = est.score(X, y, sample_weight=sw)
    assert est.score(_dask(X), _dask(y), sample_weight=_dask(sw)) == pytest.approx(
        expected, rel=1e-12, abs=1e-12
    )


@pytest.mark.parametrize("name", ["clf", "reg"])
def test_dask_weights_as_a_number(fitted, name):
    """fit takes a number as every row's weight, as in memory; score refuses
    it, as scikit-learn's metrics do in memory."""
    est = fitted[name]
    y = YR if name == "reg" else Y2
    with pytest.raises(ValueError) as memory:
        est.score(X, y, sample_weight=2.0)
    with pytest.raises(ValueError) as dask:
        est.score(_dask(X), _dask(y), sample_weight=2.0)
    assert str(dask.value) == str(memory.value)
    params = {"max_iter": 5, "random_state": 0}
    expected = clone(est).set_params(**params).fit(X, y, sample_weight=2.0)
    actual = clone(est).set_params(**params).fit(_dask(X), _dask(y), sample_weight=2.0)
    np.testing.assert_allclose(actual.coefs_[0], expected.coefs_[0], rtol=1e-9)


def test_dask_score_of_multilabel_targets(fitted):
    Y = np.c_[Y2, X[:, 2] > 0, X[:, 0] > 0.3].astype(int)
    clf = _clf().fit(X, Y)
    assert clf.score(_dask(X), _dask(Y)) == pytest.approx(clf.score(X, Y), rel=1e-12)
    with pytest.raises(ValueError, match="mix of binary and multilabel") as memory:
        clf.score(X, Y2)
    with pytest.raises(ValueError) as dask:
        clf.score(_dask(X), _dask(Y2))
    assert str(dask.value) == str(memory.value)


def test_dask_score_on_one_row_warns_as_in_memory(fitted):
    from sklearn.exceptions import UndefinedMetricWarning

    reg = fitted["reg"]
    with pytest.warns(UndefinedMetricWarning, match="less than two samples"):
        assert np.isnan(reg.score(_dask(X[:1]), _dask(YR[:1])))
    with pytest.raises(ValueError, match="0 sample"):
        reg.score(_dask(X[:0]), _dask(YR[:0]))


@pytest.mark.parametrize("method", ["score", "fit"])
@pytest.mark.parametrize("name", ["clf", "reg"])
def test_dask_0_d_targets_say_so(fitted, method, name):
    est = clone(fitted[name]) if method == "fit" else fitted[name]
    for y in (np.float64(1.0), _dask(np.array(1.0))):
        if hasattr(y, "dask"):
            y = pytest.importorskip("dask.array").from_array(np.array(1.0))
        with pytest.raises(TypeError, match="y should have at least 1 dimension"):
            getattr(est, method)(_dask(X), y)


FIT_ERRORS = {
    "y-0-columns": (np.empty((len(X), 0)), None),
    "y-3-d": (Y2[:, None, None], None),
    "w-2-d": (Y2, np.ones((len(X), 2))),
    "w-nan": (Y2, _with_nan(np.ones(len(X)))),
}


@pytest.mark.parametrize("case", sorted(FIT_ERRORS))
@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
def test_dask_fit_refuses_what_memory_refuses(Estimator, case):
    y, sw = FIT_ERRORS[case]
    est = Estimator((3,), max_iter=2)
    with pytest.raises(ValueError) as memory:
        est.fit(X, y, sample_weight=sw)
    with pytest.raises(ValueError) as dask:
        est.fit(_dask(X), _dask(y), sample_weight=_dask(sw))
    assert str(dask.value) == str(memory.value)


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("Estimator", [BackpropClassifier, BackpropRegressor])
def test_dask_dataframes_with_pd_na(Estimator, where):
    """pandas' nullable dtypes become float64 with NaN, as in memory: a pd.NA
    is reported as a NaN, and data without one fit as in memory."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype("Float64")
    target = pd.Series(Y2 if Estimator is BackpropClassifier else YR)
    target = target.astype("Int64" if Estimator is BackpropClassifier else "Float64")
    est = Estimator((3,), max_iter=5, random_state=0)
    expected = est.fit(frame, target).predict(frame)
    dask_fit = clone(est).fit(dd.from_pandas(frame, 3), dd.from_pandas(target, 3))
    np.testing.assert_allclose(dask_fit.predict(dd.from_pandas(frame, 3)), expected)
    if where == "X":
        frame.iloc[2, 1] = pd.NA
    else:
        target.iloc[2] = pd.NA
    for method in ("fit", "score"):
        call = getattr(clone(est) if method == "fit" else est, method)
        with warnings.catch_warnings():
            # scikit-learn's type_of_target casts NaN labels to int on the way.
            warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
            with pytest.raises(ValueError) as memory:
                call(frame, target)
            with pytest.raises(ValueError) as dask:
                call(dd.from_pandas(frame, 3), dd.from_pandas(target, 3))
        assert str(dask.value) == str(memory.value)
        assert "NaN" in str(dask.value)


# -- 5. check_gradient checks its arguments -----------------------------------------
def _square(theta):
    return float(np.sum(theta**2)), 2 * theta


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_coords": 0}, "'n_coords' parameter of check_gradient must be an int"),
        ({"n_coords": -3}, "'n_coords' parameter of check_gradient must be an int"),
        ({"n_coords": 1.5}, "'n_coords' parameter of check_gradient must be an int"),
        ({"eps": 0}, "'eps' parameter of check_gradient must be a float in the range"),
        ({"eps": -1e-6}, "'eps' parameter"),
        ({"eps": 1e300}, "'eps' parameter"),
        ({"eps": 1e-20}, "'eps' parameter"),  # the step would round to nothing
        ({"eps": np.nan}, "'eps' parameter"),
        ({"args": 3}, "'args' parameter"),
        ({"fun": None}, "'fun' parameter of check_gradient must be a callable"),
        ({"theta": np.ones((2, 2))}, "theta must be a non-empty 1-D array"),
        ({"theta": np.array([])}, "theta must be a non-empty 1-D array"),
        ({"theta": np.array([1.0, np.inf])}, "theta holds non-finite values"),
    ],
)
def test_check_gradient_refuses_bad_arguments(kwargs, match):
    from skbackprop import check_gradient

    call = {"fun": _square, "theta": np.ones(3)} | kwargs
    with pytest.raises(ValueError, match=match):
        check_gradient(**call)


def test_check_gradient_refuses_what_it_cannot_compare():
    from skbackprop import check_gradient

    with pytest.raises(ValueError, match="gradient of shape"):
        check_gradient(lambda t: (0.0, np.ones(2)), np.ones(3))
    with pytest.raises(ValueError, match="non-finite cost or gradient at theta"):
        check_gradient(lambda t: (np.nan, t), np.ones(3))
    with np.errstate(invalid="ignore"):
        with pytest.raises(ValueError, match=r"not finite at theta\[0\].*smaller eps"):
            check_gradient(
                lambda t: (np.log(t[0] - 0.999), 1 / (t - 0.999)), np.ones(1), eps=1e-2
            )


@pytest.mark.parametrize("eps", [np.finfo(np.float64).eps, 1e-8, 0.5])
def test_check_gradient_accepts_the_range_of_eps(eps):
    """The bounds of eps work: a quadratic's central differences are exact
    up to rounding, ``eps_machine |theta|^2 / h`` relative."""
    from skbackprop import check_gradient

    assert check_gradient(_square, np.linspace(1, 2, 4), eps=eps) < 1e-15 / eps
    assert check_gradient(_square, np.ones(4), n_coords=1, random_state=0) < 1e-9


# -- 7. the engine's public functions check their arguments ---------------------------
def _engine_problem(loss="log_loss"):
    from skbackprop import init_params

    rng = np.random.default_rng(3)
    X_ = rng.normal(size=(12, 3))
    if loss == "log_loss":
        Y_ = np.eye(3)[rng.integers(0, 3, 12)]
    else:
        Y_ = rng.poisson(1.0, (12, 3)).astype(float)
    sizes = (3, 4, 3)
    return init_params(sizes, "tanh", random_state=0), X_, Y_, sizes


def _engine_calls(theta, X_, Y_, sizes, activation="tanh", loss="log_loss", **kw):
    """Each public function of the engine that takes these arguments."""
    import skbackprop as S

    v = kw.pop("v", np.ones_like(theta))
    U = kw.pop("U", np.ones((X_.shape[0], sizes[-1])))
    with_y = {"loss": loss, **kw}
    return {
        "cost_grad": lambda: S.cost_grad(theta, X_, Y_, sizes, activation, **with_y),
        "hessian_vector_product": lambda: S.hessian_vector_product(
            theta, v, X_, Y_, sizes, activation, **with_y
        ),
        "gauss_newton_vector_product": lambda: S.gauss_newton_vector_product(
            theta, v, X_, Y_, sizes, activation, **with_y
        ),
        "gauss_newton_matrix": lambda: S.gauss_newton_matrix(
            theta, X_, Y_, sizes, activation, **with_y
        ),
        "predict_network": lambda: S.predict_network(theta, X_, sizes, activation),
        "jacobian_vector_product": lambda: S.jacobian_vector_product(
            theta, v, X_, sizes, activation
        ),
        "jacobian_transpose_vector_product": lambda: (
            S.jacobian_transpose_vector_product(theta, U, X_, sizes, activation)
        ),
        "output_jacobian": lambda: S.output_jacobian(theta, X_, sizes, activation),
    }


ENGINE = sorted(_engine_calls(*_engine_problem()))
WITH_Y = [
    "cost_grad",
    "gauss_newton_matrix",
    "gauss_newton_vector_product",
    "hessian_vector_product",
]


@pytest.mark.parametrize("function", ENGINE)
def test_engine_functions_accept_good_arguments(function):
    theta, X_, Y_, sizes = _engine_problem()
    out = _engine_calls(theta, X_, Y_, sizes)[function]()
    for a in out if isinstance(out, tuple) else (out,):
        assert np.isfinite(a).all()


@pytest.mark.parametrize("function", ENGINE)
@pytest.mark.parametrize("activation", ["nope", ["tanh", "nope"], ("tanh",) * 2])
def test_engine_functions_refuse_unknown_activations(function, activation):
    theta, X_, Y_, sizes = _engine_problem()
    with pytest.raises(ValueError, match="activation"):
        _engine_calls(theta, X_, Y_, sizes, activation)[function]()


@pytest.mark.parametrize("function", ENGINE)
@pytest.mark.parametrize("where", ["theta", "X", "Y", "v", "U"])
def test_engine_functions_refuse_non_finite_input(function, where):
    theta, X_, Y_, sizes = _engine_problem()
    arrays = {"theta": theta, "X": X_, "Y": Y_, "v": np.ones_like(theta)}
    arrays["U"] = np.ones((len(X_), sizes[-1]))
    arrays[where] = _with_nan(arrays[where], at=1)
    call = _engine_calls(
        arrays["theta"], arrays["X"], arrays["Y"], sizes, v=arrays["v"], U=arrays["U"]
    )[function]
    uses = (
        {"theta", "X"}
        | ({"Y"} if function in WITH_Y else set())
        | ({"v"} if "vector" in function and "transpose" not in function else set())
    )
    uses |= {"U"} if "transpose" in function else set()
    if where not in uses:
        call()  # the argument is not this function's
        return
    with pytest.raises(ValueError, match=f"Input {where} contains NaN"):
        call()


@pytest.mark.parametrize("function", WITH_Y)
@pytest.mark.parametrize(
    "change, match",
    [
        (lambda Y: Y[:, :, None], "Y must be 1-D or 2-D"),
        (lambda Y: 3 * Y, "0/1 indicators"),
        (lambda Y: -Y, "0/1 indicators"),
        (lambda Y: 0.5 * Y, "summing to 1"),
    ],
)
def test_engine_functions_check_targets(function, change, match):
    theta, X_, Y_, sizes = _engine_problem()
    with pytest.raises(ValueError, match=match):
        _engine_calls(theta, X_, change(Y_), sizes)[function]()


@pytest.mark.parametrize("function", WITH_Y)
def test_engine_targets_of_each_loss(function):
    theta, X_, Y_, sizes = _engine_problem("poisson")
    _engine_calls(theta, X_, Y_, sizes, loss="poisson")[function]()
    with pytest.raises(ValueError, match="negative which is not allowed"):
        _engine_calls(theta, X_, -Y_, sizes, loss="poisson")[function]()
    soft = np.full((len(X_), 3), 1 / 3)  # probabilities summing to 1 are targets
    _engine_calls(theta, X_, soft, sizes)[function]()
    _engine_calls(theta, X_.astype(np.float32), soft, sizes)[function]()
    binary = np.clip(Y_ / 3, 0, 1)  # any values in [0, 1]
    _engine_calls(theta, X_, binary, sizes, loss="binary_log_loss")[function]()
    with pytest.raises(ValueError, match="0/1 indicators"):
        _engine_calls(theta, X_, Y_, sizes, loss="binary_log_loss")[function]()
    _engine_calls(theta, X_, -Y_, sizes, loss="squared_error")[function]()


@pytest.mark.parametrize("function", WITH_Y)
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": -1.0}, "alpha must be finite and non-negative"),
        ({"alpha": np.nan}, "alpha must be finite and non-negative"),
        ({"alpha": np.inf}, "alpha must be finite and non-negative"),
        ({"alpha": "0.1"}, "alpha must be a non-negative number"),
        ({"alpha": True}, "alpha must be a non-negative number"),
        ({"alpha": 1j}, "alpha must be a non-negative number"),
        ({"sample_weight": -np.ones(12)}, "Negative values in data passed"),
        ({"sample_weight": _with_nan(np.ones(12))}, "Input sample_weight contains"),
    ],
)
def test_engine_functions_check_alpha_and_weights(function, kwargs, match):
    theta, X_, Y_, sizes = _engine_problem()
    with pytest.raises(ValueError, match=match):
        _engine_calls(theta, X_, Y_, sizes, **kwargs)[function]()


def test_engine_float_alpha_values_agree():
    """A NumPy or 0-d alpha is the same penalty as the Python float."""
    from skbackprop import cost_grad

    theta, X_, Y_, sizes = _engine_problem()
    J, D = cost_grad(theta, X_, Y_, sizes, "tanh", "log_loss", 0.25)
    for alpha in (np.float64(0.25), np.array(0.25), 1 / 4, np.float32(0.25)):
        J2, D2 = cost_grad(theta, X_, Y_, sizes, "tanh", "log_loss", alpha)
        assert J2 == J and np.array_equal(D2, D)


def test_jacobian_transpose_refuses_3_d_signals():
    from skbackprop import jacobian_transpose_vector_product

    theta, X_, _, sizes = _engine_problem()
    with pytest.raises(ValueError, match="U must be 1-D or 2-D"):
        jacobian_transpose_vector_product(theta, np.ones((12, 3, 1)), X_, sizes)


def test_pack_params_refuses_complex_parts():
    from skbackprop import pack_params

    with pytest.raises(ValueError, match="Complex data not supported"):
        pack_params([np.ones((3, 2)) * 1j], [np.ones(2)])
    with pytest.raises(ValueError, match="Complex data not supported"):
        pack_params([np.ones((3, 2))], [np.ones(2) + 0j], out=np.empty(8))
    with pytest.raises(ValueError, match="out must be a 1-D array of 8"):
        pack_params([np.ones((3, 2))], [np.ones(2)], out=np.empty(3))


# -- 9. a sparse multilabel y ---------------------------------------------------------
Y_MULTI = np.c_[Y2, X[:, 2] > 0, X[:, 0] > 0.3].astype(int)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "csr_array"])
def test_sparse_multilabel_y_fits_as_dense(fmt):
    """As scikit-learn's MLPClassifier: the same model as the dense indicator
    matrix, and sparse predictions."""
    import scipy.sparse as sp

    Y_sparse = (
        sp.csr_array(Y_MULTI)
        if fmt == "csr_array"
        else sp.csr_matrix(Y_MULTI).asformat(fmt)
    )
    dense = _clf().fit(X, Y_MULTI)
    sparse = _clf().fit(X, Y_sparse)
    assert np.array_equal(sparse.coefs_[0], dense.coefs_[0])
    pred = sparse.predict(X)
    assert sp.issparse(pred)
    assert np.array_equal(pred.toarray(), dense.predict(X))
    assert np.array_equal(sparse.predict_proba(X), dense.predict_proba(X))
    assert sparse.score(X, Y_sparse) == dense.score(X, Y_MULTI)
    assert sparse.score(X, Y_MULTI) == dense.score(X, Y_MULTI)


def test_sparse_multilabel_y_in_every_path():
    """class_weight, early stopping (split or X_val), partial_fit, warm_start,
    pickling and Dask all take it."""
    import scipy.sparse as sp

    Y_sparse = sp.csr_matrix(Y_MULTI)
    weights = [{0: 1.0, 1: 2.0}] * 3
    expected = _clf(class_weight=weights).fit(X, Y_MULTI)
    actual = _clf(class_weight=weights).fit(X, Y_sparse)
    assert np.array_equal(actual.coefs_[0], expected.coefs_[0])
    for kwargs in ({}, {"X_val": X[:20], "y_val": Y_sparse[:20]}):
        est = _clf(early_stopping=True).fit(X, Y_sparse, **kwargs)
        assert est.predict(X).shape == Y_MULTI.shape
    gd = _clf(solver="gd").partial_fit(X, Y_sparse, classes=[0, 1, 2])
    gd.partial_fit(X, Y_sparse)
    gd.set_params(warm_start=True).fit(X, Y_sparse)
    assert pickle.loads(pickle.dumps(gd)).predict(X).shape == Y_MULTI.shape
    dask_fit = _clf().fit(_dask(X), Y_sparse)
    np.testing.assert_allclose(dask_fit.coefs_[0], _clf().fit(X, Y_MULTI).coefs_[0])
    assert actual.score(_dask(X), _dask(Y_MULTI)) == actual.score(X, Y_MULTI)


def test_other_sparse_targets_are_refused_by_name():
    import scipy.sparse as sp

    with pytest.raises(ValueError, match="multilabel indicator matrix of 0s and 1s"):
        _clf().fit(X, sp.csr_matrix(2 * Y_MULTI))
    with pytest.raises(TypeError, match="toarray"):  # a sparse column, as sklearn
        _clf().fit(X, sp.csr_matrix(Y2[:, None]))
    reg = BackpropRegressor((3,), max_iter=2)
    with pytest.raises(ValueError, match="does not take a sparse y.*toarray"):
        reg.fit(X, sp.csr_matrix(np.c_[YR, YR]))
    with pytest.raises(TypeError, match="toarray"):
        reg.fit(X, sp.csr_matrix(YR[:, None]))


# -- 16. error bars do not overflow where the mean is finite --------------------------
@pytest.fixture(scope="module")
def bars():
    rng = np.random.default_rng(5)
    X_ = rng.uniform(-1, 1, (50, 2))
    y_ = np.sin(2 * X_[:, 0]) + 0.1 * rng.normal(size=50)
    params = {"max_iter": 200, "random_state": 0}
    return {
        (act, alpha): BackpropRegressor((5,), act, alpha=alpha, **params).fit(X_, y_)
        for act in ("relu", "identity")
        for alpha in (1e-3, "evidence")  # the last layer's factor, the whole network's
    }


@pytest.mark.parametrize(
    "key", [("relu", 1e-3), ("relu", "evidence"), ("identity", 1e-3)]
)
def test_error_bars_of_huge_inputs_are_finite(bars, key):
    """ReLU and identity networks are positively homogeneous far from the
    origin: mean and standard deviation grow with the inputs' scale, and
    stay finite as long as the mean does."""
    reg = bars[key]
    X_far = np.array([[1.0, 0.5], [-1.0, 0.3], [0.2, -0.9]])
    mean0, std0 = reg.predict(1e100 * X_far, return_std=True)
    for scale in (1e160, 1e200, 1e300):
        mean, std = reg.predict(scale * X_far, return_std=True)
        assert np.isfinite(mean).all() and np.isfinite(std).all()
        # Rounding of s * x, amplified by the factor's condition (< 1e4 here).
        np.testing.assert_allclose(std, std0 * (scale / 1e100), rtol=1e-10)


@pytest.mark.parametrize("key", [("relu", 1e-3), ("relu", "evidence")])
def test_error_bars_of_ordinary_inputs_unchanged(bars, key):
    """The robust norm gives the textbook ``sqrt(noise (1 + g' M^-1 g))``."""
    from scipy.linalg import solve_triangular

    from skbackprop._engine import laplace

    reg = bars[key]
    X_ = np.random.default_rng(6).uniform(-1, 1, (7, 2))
    _, std = reg.predict(X_, return_std=True)
    net = reg._network(reg._fitted_sizes(), np.float64)
    from skbackprop import pack_params

    theta = pack_params(reg.coefs_, reg.intercepts_)
    L = reg._laplace["factor"]
    if reg._laplace["kind"] == "full":
        G = laplace.network_jacobian(net, theta, X_).reshape(len(X_), -1)
    else:
        G = laplace.features(net, theta, X_)
    Z = solve_triangular(L, G.T, lower=True)
    expected = np.sqrt(reg.noise_variance_ * (1 + np.sum(Z**2, axis=0)))
    np.testing.assert_allclose(std, expected, rtol=1e-12)


def test_quadratic_roots_are_a_robust_norm():
    from skbackprop._engine.laplace import quadratic_forms, quadratic_roots

    rng = np.random.default_rng(7)
    A = rng.normal(size=(4, 4))
    L = np.linalg.cholesky(A @ A.T + 4 * np.eye(4))
    g = rng.normal(size=(1, 4))
    plain = np.sqrt(quadratic_forms(L, g))
    G = np.vstack([g, 1e300 * g, 1e-300 * g, np.zeros((1, 4)), [[np.inf, 0, 0, 0]]])
    roots = quadratic_roots(L, G)
    np.testing.assert_allclose(roots[:3], plain * [1, 1e300, 1e-300], rtol=1e-14)
    assert roots[3] == 0 and roots[4] == np.inf


# -- 17. loading checks the error bars' state ---------------------------------------
@pytest.fixture(scope="module")
def posteriors():
    rng = np.random.default_rng(8)
    X_ = rng.normal(size=(40, 3))
    y_ = X_[:, 0] + 0.1 * rng.normal(size=40)
    params = {"hidden_layer_sizes": (4,), "max_iter": 60, "random_state": 0}
    return X_, {
        "last-layer": BackpropRegressor(alpha=1e-3, **params).fit(X_, y_),
        "full": BackpropRegressor(alpha="evidence", **params).fit(X_, y_),
        "ard": BackpropRegressor(alpha="ard", **params).fit(X_, y_),
        "clf": BackpropClassifier(alpha="evidence", **params).fit(X_, y_ > 0),
    }


def _set_factor(value):
    def edit(est):
        est._laplace = {**est._laplace, "factor": value(est._laplace["factor"])}

    return edit


def _nan_at_0(L):
    L = L.copy()
    L[0, 0] = np.nan
    return L


POSTERIOR_EDITS = {
    "factor-nan": ("full", _set_factor(_nan_at_0), r"_laplace\['factor'\]"),
    "factor-nan-last": ("last-layer", _set_factor(_nan_at_0), r"_laplace\['factor'\]"),
    "factor-shape": ("full", _set_factor(lambda L: L[:-1, :-1]), r"shape \(21, 21\)"),
    "factor-shape-last": ("last-layer", _set_factor(lambda L: L[:3, :3]), "shape"),
    "factor-float32": ("full", _set_factor(lambda L: L.astype(np.float32)), "float64"),
    "factor-not-cholesky": ("full", _set_factor(lambda L: -L), "positive diagonal"),
    "factor-list": ("full", _set_factor(lambda L: L.tolist()), r"_laplace\['factor'\]"),
    "laplace-kind": ("full", lambda e: e._laplace.update(kind="diag"), "_laplace"),
    "laplace-type": ("full", lambda e: setattr(e, "_laplace", "x"), "_laplace"),
    "noise-negative": ("full", lambda e: setattr(e, "noise_variance_", -1.0), "noise"),
    "noise-nan": (
        "last-layer",
        lambda e: setattr(e, "noise_variance_", np.nan),
        "noise",
    ),
    "noise-str": ("full", lambda e: setattr(e, "noise_variance_", "1"), "noise"),
    "noise-none": ("full", lambda e: setattr(e, "noise_variance_", None), "noise"),
    "alpha-negative": ("full", lambda e: setattr(e, "alpha_", -0.5), "alpha_"),
    "alpha-nan-clf": ("clf", lambda e: setattr(e, "alpha_", np.nan), "alpha_"),
    "alpha-ard-shape": ("ard", lambda e: setattr(e, "alpha_", e.alpha_[:2]), "alpha_"),
    "alpha-ard-nan": (
        "ard",
        lambda e: setattr(e, "alpha_", e.alpha_ * np.nan),
        "alpha_",
    ),
    "gamma-too-big": (
        "full",
        lambda e: setattr(e, "n_effective_params_", 1e9),
        "n_eff",
    ),
    "curve-type": (
        "clf",
        lambda e: setattr(e, "evidence_curve_", "x"),
        "evidence_curve_",
    ),
}


@pytest.mark.parametrize("loader", ["pickle", "skops"])
@pytest.mark.parametrize("case", sorted(POSTERIOR_EDITS))
def test_loading_refuses_a_bad_posterior(posteriors, case, loader):
    sio = pytest.importorskip("skops.io")
    from skbackprop import trusted_types

    _, fitted_ = posteriors
    name, edit, field = POSTERIOR_EDITS[case]
    est = copy.deepcopy(fitted_[name])
    edit(est)
    with pytest.raises(ValueError, match=f"Refusing to load(?s:.*){field}"):
        if loader == "pickle":
            pickle.loads(pickle.dumps(est))
        else:
            sio.loads(sio.dumps(est), trusted=trusted_types())


@pytest.mark.parametrize(
    "case", ["factor-shape", "factor-shape-last", "factor-list", "noise-negative"]
)
def test_return_std_names_an_edited_posterior_field(posteriors, case):
    from skbackprop._state import InconsistentStateError

    X_, fitted_ = posteriors
    name, edit, field = POSTERIOR_EDITS[case]
    est = copy.deepcopy(fitted_[name])
    edit(est)
    with pytest.raises(InconsistentStateError, match=field):
        est.predict(X_, return_std=True)
    est.predict(X_)  # prediction of the mean does not need them


@pytest.mark.parametrize("loader", ["pickle", "skops"])
def test_good_posteriors_load_and_old_files_without_them_too(posteriors, loader):
    sio = pytest.importorskip("skops.io")
    from skbackprop import trusted_types

    def load(est):
        if loader == "pickle":
            return pickle.loads(pickle.dumps(est))
        return sio.loads(sio.dumps(est), trusted=trusted_types())

    X_, fitted_ = posteriors
    for name in ("last-layer", "full", "ard"):
        est = fitted_[name]
        m, s = load(est).predict(X_, return_std=True)
        m0, s0 = est.predict(X_, return_std=True)
        assert np.array_equal(m, m0) and np.array_equal(s, s0)
    old = copy.deepcopy(fitted_["full"])  # as a file from before the posterior
    for field in ("alpha_", "n_effective_params_", "evidence_curve_", "_laplace"):
        delattr(old, field)
    old.noise_variance_ = None
    loaded = load(old)
    assert np.array_equal(loaded.predict(X_), fitted_["full"].predict(X_))
    with pytest.raises(ValueError, match="needs the Laplace approximation"):
        loaded.predict(X_, return_std=True)


# -- 18. the docs' Dask script runs as a script; verbose says what it waits for -------
def _python_blocks(path):
    """The Python code blocks of a Markdown or reStructuredText file."""
    import re
    import textwrap

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return re.findall(r"```python\n(.*?)```", text, re.S)
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text)
    return [textwrap.dedent(b) for b in blocks]


@pytest.mark.slow
@pytest.mark.parametrize("source", ["README.md", "docs/user_guide/dask.rst"])
def test_the_docs_dask_script_runs_as_a_script(tmp_path, source):
    """Run as ``python script.py``, with real worker processes (smaller data)."""
    import os
    import subprocess
    from pathlib import Path

    pytest.importorskip("distributed")
    root = Path(__file__).resolve().parents[1]
    (code,) = [b for b in _python_blocks(root / source) if "LocalCluster(" in b]
    assert 'if __name__ == "__main__":' in code
    for big, small in (("1_000_000", "4_000"), ("100_000", "1_000"), ("=100", "=3")):
        assert big in code
        code = code.replace(big, small)
    script = tmp_path / "dask_script.py"
    script.write_text(code, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert 0 <= float(run.stdout.split()[-1]) <= 1  # the printed score


def test_verbose_dask_fit_says_what_it_waits_for(capsys):
    est = _clf(max_iter=2, verbose=True).fit(_dask(X), _dask(Y3))
    out = capsys.readouterr().out.splitlines()
    first = next(i for i, line in enumerate(out) if line.startswith("Iteration"))
    assert "60 rows in 4 blocks; validating and persisting" in out[0]
    assert out[first - 1].startswith("Data ready on the workers after")
    assert "first evaluation of the cost" in out[first - 1]
    est.set_params(verbose=False).fit(_dask(X), _dask(Y3))
    assert capsys.readouterr().out == ""


# -- 19. messages that name the fix and the argument -----------------------------------
def test_monotonic_cst_dict_in_a_pipeline_names_the_fix():
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = BackpropRegressor((4,), max_iter=20, random_state=0, monotonic_cst={"a": 1})
    pipe = make_pipeline(StandardScaler(), reg)
    with pytest.raises(ValueError, match=r'set_output\(transform="pandas"\)'):
        pipe.fit(frame, YR)
    with pytest.raises(ValueError, match="an array of -1, 0 and 1"):
        clone(reg).fit(X, YR)
    pipe.set_output(transform="pandas").fit(frame, YR)  # the fix works
    first = pipe[-1].coefs_[0]
    assert (first[0] >= 0).all()  # increasing in "a": its first-layer weights


@pytest.mark.parametrize(
    "X_val, y_val, match",
    [
        (np.ones((5, 5)), np.ones(5), "X_val has 5 features, but BackpropRegressor"),
        (_with_nan(np.ones((5, 3))), np.ones(5), "Input X_val contains NaN"),
        (np.ones((5, 3)), _with_nan(np.ones(5)), "Input y_val contains NaN"),
        (np.ones((5, 3)), np.ones(4), "X_val, y_val: Found input variables"),
        (np.ones((0, 3)), np.ones(0), "X_val, y_val: Found array with 0 sample"),
    ],
)
def test_a_bad_validation_set_is_named(X_val, y_val, match):
    reg = BackpropRegressor((3,), max_iter=3, early_stopping=True)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, YR, X_val=X_val, y_val=y_val)


def test_validation_set_feature_names_are_named():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    wrong = pd.DataFrame(X[:5], columns=["a", "b", "d"])
    reg = BackpropRegressor((3,), max_iter=3, early_stopping=True)
    with pytest.raises(ValueError, match="X_val's feature names should match"):
        reg.fit(frame, YR, X_val=wrong, y_val=YR[:5])
    reg.fit(frame, YR, X_val=frame[:5], y_val=YR[:5])  # the right names pass


# -- 20. partial_fit's arguments as scikit-learn's -----------------------------------
def test_classifier_partial_fit_takes_classes_and_weights_by_keyword():
    """scikit-learn 1.9's MLPClassifier takes ``(X, y, sample_weight,
    classes)``, its SGDClassifier ``(X, y, classes, sample_weight)``: a third
    positional argument would mean one thing or the other, so neither is
    positional here."""
    import inspect

    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier

    ours = inspect.signature(BackpropClassifier.partial_fit).parameters
    for Sk in (MLPClassifier, SGDClassifier):
        theirs = inspect.signature(Sk.partial_fit).parameters
        assert set(theirs) <= set(ours)  # every argument of theirs, by name
    keyword = [p for p in ours.values() if p.kind is p.KEYWORD_ONLY]
    assert [p.name for p in keyword] == ["classes", "sample_weight"]
    clf = BackpropClassifier((3,), solver="gd", random_state=0)
    with pytest.raises(TypeError, match="positional"):
        clf.partial_fit(X, Y3, [0, 1, 2])
    with pytest.raises(TypeError, match="positional"):
        clf.partial_fit(X, Y3, None, [0, 1, 2])
    assert not hasattr(clf, "coefs_")
    weights = np.linspace(0.5, 2, len(X))
    clf.partial_fit(X, Y3, classes=[0, 1, 2], sample_weight=weights)
    same = BackpropClassifier((3,), solver="gd", random_state=0)
    same.partial_fit(X, Y3, sample_weight=weights, classes=[0, 1, 2])
    assert np.array_equal(clf.coefs_[0], same.coefs_[0])


def test_regressor_partial_fit_keeps_sklearns_positional_weights():
    """MLPRegressor and SGDRegressor agree: ``(X, y, sample_weight)``."""
    import inspect

    from sklearn.linear_model import SGDRegressor
    from sklearn.neural_network import MLPRegressor

    ours = list(inspect.signature(BackpropRegressor.partial_fit).parameters)
    for Sk in (MLPRegressor, SGDRegressor):
        assert list(inspect.signature(Sk.partial_fit).parameters) == ours
    weights = np.linspace(0.5, 2, len(X))
    a = BackpropRegressor((3,), solver="gd", random_state=0).partial_fit(X, YR, weights)
    b = BackpropRegressor((3,), solver="gd", random_state=0)
    b.partial_fit(X, YR, sample_weight=weights)
    assert np.array_equal(a.coefs_[0], b.coefs_[0])
