"""alpha="auto": ARD's evidence wherever it applies, a fixed penalty
elsewhere, and the evidence's regression fits unit-free (targets
standardized)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier, BackpropRegressor
from skbackprop._training import evidence, evidence_terms

X_iris, y_iris = load_iris(return_X_y=True)
X_diab, y_diab = load_diabetes(return_X_y=True)
X_diab = StandardScaler().fit_transform(X_diab)


def _quiet(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.mark.parametrize(
    "params, evidence",
    [
        ({}, True),
        ({"solver": "lm"}, True),
        ({"early_stopping": True}, False),
        ({"solver": "gd", "batch_size": 32}, False),
        ({"solver": "gd"}, True),  # full batch
    ],
)
def test_auto_is_the_evidence_where_it_applies(params, evidence):
    est = BackpropClassifier((4,), alpha="auto", random_state=0, **params)
    _quiet(est, X_iris, y_iris)
    assert (est.evidence_curve_ is not None) is evidence
    if not evidence:
        assert est.alpha_ == BackpropClassifier._auto_alpha
    assert "_fit_penalty" not in vars(est)


def test_auto_is_ard_with_a_penalty_per_input_and_per_later_layer():
    est = _quiet(
        BackpropClassifier((4, 3), alpha="auto", random_state=0), X_iris, y_iris
    )
    # Four inputs, then the second hidden layer and the output layer.
    assert est.alpha_.shape == (4 + 2,)
    same = _quiet(
        BackpropClassifier((4, 3), alpha="ard", random_state=0), X_iris, y_iris
    )
    np.testing.assert_array_equal(est.alpha_, same.alpha_)
    for a, b in zip(est.coefs_, same.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_auto_takes_the_fixed_penalty_where_the_evidence_would_be_estimated(
    monkeypatch,
):
    # Beyond exact terms (here 40 parameters, or data; the network has 49
    # and there are 442 rows) the stochastic estimates would cost more than
    # the fit.
    monkeypatch.setattr(evidence_terms, "EXACT_LIMIT", 40)
    reg = _quiet(BackpropRegressor((4,), alpha="auto", random_state=0), X_diab, y_diab)
    assert reg.alpha_ == BackpropRegressor._auto_alpha
    assert reg.evidence_curve_ is None
    fixed = _quiet(
        BackpropRegressor((4,), alpha=BackpropRegressor._auto_alpha, random_state=0),
        X_diab,
        y_diab,
    )
    np.testing.assert_array_equal(reg.predict(X_diab), fixed.predict(X_diab))
    # Explicitly asked for, the evidence runs on the estimates.
    ard = _quiet(BackpropRegressor((4,), alpha="ard", random_state=0), X_diab, y_diab)
    assert ard.evidence_curve_ is not None


def test_auto_falls_back_for_partial_fit_and_losses_without_likelihood():
    clf = BackpropClassifier((4,), alpha="auto", solver="gd", random_state=0)
    clf.partial_fit(X_iris, y_iris, classes=[0, 1, 2])
    assert clf.alpha_ == 1.0 and clf.evidence_curve_ is None
    reg = _quiet(
        BackpropRegressor((4,), alpha="auto", loss="huber", random_state=0),
        X_diab,
        y_diab,
    )
    assert reg.alpha_ == BackpropRegressor._auto_alpha
    assert reg.evidence_curve_ is None


def test_evidence_fits_are_unit_free():
    # The evidence sees the targets standardized: the same fit, up to
    # rounding, whatever their units; predictions, error bars, noise and
    # loss in the targets' own units.
    fits = {}
    for c in (1.0, 1e-3, 1e4):
        # Inner runs to convergence: their ends do not hang on rounding.
        est = BackpropRegressor(
            (5,), "tanh", alpha="auto", tol=1e-9, max_iter=5000, random_state=0
        )
        fits[c] = _quiet(est, X_diab, c * y_diab)
    ref = fits[1.0]
    mean, std = ref.predict(X_diab[:20], return_std=True)
    # The standardized targets agree to a few ulps; the loop stops once alpha
    # moves by at most evidence.ARD_TOL (relative), so two loops whose
    # rounding differs may stop an iteration apart: alpha agrees to 2 ARD_TOL, the
    # predictions to a small share of their error bars.  A units error would
    # be of order 1.
    rel = 2 * evidence.ARD_TOL
    for c, est in fits.items():
        assert est.alpha_ == pytest.approx(ref.alpha_, rel=rel)
        m, s = est.predict(X_diab[:20], return_std=True)
        np.testing.assert_allclose(m / c, mean, rtol=0, atol=rel * std.min())
        np.testing.assert_allclose(s / c, std, rtol=rel)
        assert est.noise_variance_ / c**2 == pytest.approx(ref.noise_variance_, rel=rel)
        assert est.loss_ / c**2 == pytest.approx(ref.loss_, rel=rel)
    # The noise variance is that of the residuals, in the targets' units.
    residuals = y_diab - ref.predict(X_diab)
    assert ref.noise_variance_ == pytest.approx(np.var(residuals), rel=0.2)


def test_cross_validated_r2_does_not_depend_on_the_units():
    cv = KFold(5, shuffle=True, random_state=0)
    model = make_pipeline(
        StandardScaler(), BackpropRegressor((5,), "tanh", alpha="auto", random_state=0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = {
            c: cross_val_score(model, X_diab, c * y_diab, cv=cv).mean()
            for c in (1.0, 1e-3, 1e4)
        }
    assert max(scores.values()) - min(scores.values()) <= 0.005
    assert scores[1.0] > 0.4  # linear models get 0.48 on diabetes


def test_error_bars_cover_held_out_rows():
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y_diab))
    train, test = idx[:330], idx[330:]
    est = _quiet(
        BackpropRegressor((5,), "tanh", alpha="auto", random_state=0),
        X_diab[train],
        1e4 * y_diab[train],
    )
    mean, std = est.predict(X_diab[test], return_std=True)
    inside = np.abs(1e4 * y_diab[test] - mean) <= 1.96 * std
    assert 0.9 <= inside.mean() <= 0.99


def test_a_fit_the_evidence_switched_off_says_so(seed):
    # Inputs that carry nothing (every row the same): the model can only be
    # the targets' mean, and the fit warns.
    rng = np.random.RandomState(seed)
    y = 1000 * rng.normal(size=200) + 5
    with pytest.warns(UserWarning, match="switched off the inputs"):
        BackpropRegressor((8,), alpha="auto", random_state=seed).fit(
            np.ones((200, 3)), y
        )
    # Targets unrelated to the inputs: the warning comes exactly when the
    # predictions vary by at most CONSTANT of the targets' spread (in the
    # targets' units; the loop sees them standardized).
    X = rng.normal(size=(200, 5))
    for alpha in ("evidence", "ard"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reg = BackpropRegressor(alpha=alpha, random_state=seed).fit(X, y)
        warned = any("switched off the inputs" in str(w.message) for w in caught)
        assert warned == (np.std(reg.predict(X)) <= evidence.CONSTANT * np.std(y))
    # An informative target: no such warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*switched off the inputs")
        warnings.simplefilter("ignore", ConvergenceWarning)
        BackpropRegressor((8,), alpha="evidence", random_state=seed).fit(X_diab, y_diab)
