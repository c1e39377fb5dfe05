"""Reliability, third round: concurrency of fit and predict, the argument
checks of ``score``, the engine functions and the gradient check, error
bars at extreme scales and in saved files (issue #25)."""

import copy
import pickle
import sys
import threading

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
        args = (X, Y3, [0, 1, 2]) if method == "partial_fit" else (X, Y3)
        try:
            getattr(clf, method)(*args)
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
