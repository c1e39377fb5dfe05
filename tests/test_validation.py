"""A validation set passed to ``fit`` and the ``scoring`` of early stopping."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, mean_poisson_deviance, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier, BackpropRegressor, cost_grad, pack_params

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X_ALL = RNG.normal(size=(160, 4))
SW_ALL = RNG.uniform(0.2, 2.0, 160)
SCORE = X_ALL[:, 0] + 0.5 * X_ALL[:, 1] ** 2 - 0.3 * X_ALL[:, 2]
TARGETS = {
    "binary": np.where(SCORE > 0.3, "yes", "no"),
    "multiclass": np.digitize(SCORE, [-0.5, 0.8]),
    "multilabel": np.stack([SCORE > 0.3, X_ALL[:, 3] > 0], axis=1).astype(int),
    "regression": np.stack([SCORE, X_ALL[:, 2] - X_ALL[:, 3]], axis=1),
    "poisson": RNG.poisson(np.exp(0.4 * X_ALL[:, 0])).astype(float),
}
TRAIN, VAL = slice(0, 110), slice(110, None)


def _estimator(kind, **params):
    params = {
        "hidden_layer_sizes": (6,),
        "activation": "tanh",
        "early_stopping": True,
        "n_iter_no_change": 3,
        "max_iter": 60,
        "random_state": 0,
        **params,
    }
    if kind in ("regression", "poisson"):
        loss = "poisson" if kind == "poisson" else "squared_error"
        return BackpropRegressor(loss=loss, **params)
    return BackpropClassifier(**params)


def _fit(kind, weighted=False, **params):
    """A fit with an explicit validation set; returns it and the validation rows."""
    y = TARGETS[kind]
    sw = SW_ALL if weighted else None
    fit_sw = sw[TRAIN] if weighted else None
    val_sw = sw[VAL] if weighted else None
    est = _estimator(kind, **params).fit(
        X_ALL[TRAIN],
        y[TRAIN],
        sample_weight=fit_sw,
        X_val=X_ALL[VAL],
        y_val=y[VAL],
        sample_weight_val=val_sw,
    )
    return est, X_ALL[VAL], y[VAL], val_sw


def _held_out_loss(kind, est, X, y, sw):
    """The mean validation loss, recomputed from the public predictions."""
    if kind in ("binary", "multiclass"):
        return log_loss(y, est.predict_proba(X), sample_weight=sw)
    if kind == "multilabel":
        P = est.predict_proba(X)
        rows = -(y * np.log(P) + (1 - y) * np.log(1 - P)).sum(axis=1)
        return np.average(rows, weights=sw)
    if kind == "regression":
        rows = 0.5 * ((est.predict(X) - y) ** 2).sum(axis=1)
        return np.average(rows, weights=sw)
    return 0.5 * mean_poisson_deviance(y, est.predict(X), sample_weight=sw)


# -- the held-out loss ----------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", list(TARGETS))
def test_loss_scoring_is_the_held_out_loss(kind, weighted):
    est, X_val, y_val, sw_val = _fit(kind, weighted, scoring="loss")
    scores = est.validation_scores_
    assert len(scores) == est.n_iter_ and max(scores) == est.best_validation_score_
    # The kept parameters are those of the best score, minus their loss.
    loss = _held_out_loss(kind, est, X_val, y_val, sw_val)
    assert est.best_validation_score_ == pytest.approx(-loss, rel=1e-10)
    assert est.best_validation_score_ < 0


def test_loss_scoring_stops_on_the_loss_not_the_accuracy():
    # With the loss, scores improve past the point where accuracy saturates.
    kw = {"n_iter_no_change": 2, "tol": 1e-3}
    by_loss = _fit("binary", scoring="loss", **kw)[0]
    by_accuracy = _fit("binary", **kw)[0]
    assert len(set(by_loss.validation_scores_)) == len(by_loss.validation_scores_)
    assert len(set(by_accuracy.validation_scores_)) < len(
        by_accuracy.validation_scores_
    )


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_default_scoring_is_the_estimator_score(kind):
    est, X_val, y_val, _ = _fit(kind, weighted=True)
    sw_val = SW_ALL[VAL]
    assert est.best_validation_score_ == pytest.approx(
        est.score(X_val, y_val, sample_weight=sw_val), rel=1e-12
    )
    metric = accuracy_score if kind == "multiclass" else r2_score
    assert est.best_validation_score_ == pytest.approx(
        metric(y_val, est.predict(X_val), sample_weight=sw_val), rel=1e-12
    )


def test_scorer_name_and_callable():
    by_name = _fit("binary", scoring="neg_log_loss")[0]
    by_loss = _fit("binary", scoring="loss")[0]
    # The scorer computes the same negative log-loss from predict_proba
    # (up to its clipping of probabilities).
    np.testing.assert_allclose(
        by_name.validation_scores_, by_loss.validation_scores_, rtol=1e-9
    )

    calls = []

    def scorer(est, X, y):
        calls.append(X.shape)
        return -np.mean(np.abs(est.predict(X) - y))

    est, X_val, y_val, _ = _fit("regression", scoring=scorer)
    assert calls and set(calls) == {X_val.shape}
    assert est.best_validation_score_ == pytest.approx(
        -np.mean(np.abs(est.predict(X_val) - y_val)), rel=1e-12
    )


def test_loss_scoring_with_the_validation_fraction_split():
    est = _estimator("multiclass", scoring="loss").fit(X_ALL, TARGETS["multiclass"])
    assert all(s < 0 for s in est.validation_scores_)
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_without_early_stopping_scoring_is_unused():
    est = _estimator("binary", early_stopping=False, scoring="loss")
    est.fit(X_ALL, TARGETS["binary"])
    assert est.validation_scores_ is None and est.best_validation_score_ is None


# -- all of X trains --------------------------------------------------------------
def test_all_of_X_trains_with_a_validation_set():
    y = TARGETS["regression"]
    est = _estimator("regression", alpha=0.3).fit(
        X_ALL[TRAIN], y[TRAIN], X_val=X_ALL[VAL], y_val=y[VAL]
    )
    theta = pack_params(est.coefs_, est.intercepts_)
    sizes = (4, 6, 2)
    J = cost_grad(theta, X_ALL[TRAIN], y[TRAIN], sizes, "tanh", "squared_error", 0.3)
    assert est.loss_ == pytest.approx(J[0], rel=1e-12)
    # The fraction split would have trained on fewer rows: another cost.
    split = _estimator("regression", alpha=0.3).fit(X_ALL[TRAIN], y[TRAIN])
    theta = pack_params(split.coefs_, split.intercepts_)
    J = cost_grad(theta, X_ALL[TRAIN], y[TRAIN], sizes, "tanh", "squared_error", 0.3)
    assert split.loss_ != pytest.approx(J[0], rel=1e-6)


def test_validation_set_input_kinds():
    # Sparse X_val for a dense fit, a column-vector y_val, float32 data.
    y = TARGETS["binary"]
    dense = _estimator("binary", scoring="loss").fit(
        X_ALL[TRAIN], y[TRAIN], X_val=X_ALL[VAL], y_val=y[VAL]
    )
    sparse = _estimator("binary", scoring="loss").fit(
        X_ALL[TRAIN], y[TRAIN], X_val=sp.csr_matrix(X_ALL[VAL]), y_val=y[VAL]
    )
    assert sparse.validation_scores_ == pytest.approx(dense.validation_scores_)
    with pytest.warns(sklearn.exceptions.DataConversionWarning):
        column = _estimator("binary", scoring="loss").fit(
            X_ALL[TRAIN], y[TRAIN], X_val=X_ALL[VAL], y_val=y[VAL, None]
        )
    assert column.validation_scores_ == dense.validation_scores_
    X32 = X_ALL.astype(np.float32)
    est = _estimator("binary", scoring="loss").fit(
        X32[TRAIN], y[TRAIN], X_val=X_ALL[VAL], y_val=y[VAL]
    )
    assert est.coefs_[0].dtype == np.float32
    assert est.best_validation_score_ == pytest.approx(
        -log_loss(y[VAL], est.predict_proba(X32[VAL])), rel=1e-5
    )


# -- metadata routing ---------------------------------------------------------------
def test_pipeline_routes_and_transforms_the_validation_set():
    y = TARGETS["multiclass"]
    X = 10 * X_ALL + 3  # the scaler matters
    with sklearn.config_context(enable_metadata_routing=True):
        est = _estimator("multiclass", scoring="loss").set_fit_request(
            sample_weight=True, X_val=True, y_val=True, sample_weight_val=True
        )
        scale = StandardScaler().set_fit_request(sample_weight=False)
        pipe = Pipeline([("scale", scale), ("net", est)], transform_input=["X_val"])
        pipe.fit(
            X[TRAIN],
            y[TRAIN],
            sample_weight=SW_ALL[TRAIN],
            X_val=X[VAL],
            y_val=y[VAL],
            sample_weight_val=SW_ALL[VAL],
        )
    scaler = StandardScaler().fit(X[TRAIN])
    direct = _estimator("multiclass", scoring="loss").fit(
        scaler.transform(X[TRAIN]),
        y[TRAIN],
        sample_weight=SW_ALL[TRAIN],
        X_val=scaler.transform(X[VAL]),
        y_val=y[VAL],
        sample_weight_val=SW_ALL[VAL],
    )
    assert pipe[-1].validation_scores_ == direct.validation_scores_
    np.testing.assert_array_equal(pipe[-1].coefs_[0], direct.coefs_[0])
    routing = BackpropRegressor().get_metadata_routing().fit.requests
    assert {"X_val", "y_val", "sample_weight_val"} <= set(routing)


# -- bad input -------------------------------------------------------------------------
def _fitted():
    return _estimator("multiclass").fit(X_ALL[TRAIN], TARGETS["multiclass"][TRAIN])


y_MC = TARGETS["multiclass"]
BAD = [
    ("X_val-alone", {}, {"X_val": X_ALL[VAL]}, "y_val was not provided"),
    ("y_val-alone", {}, {"y_val": y_MC[VAL]}, "X_val was not provided"),
    (
        "weights-alone",
        {},
        {"sample_weight_val": SW_ALL[VAL]},
        "sample_weight_val is provided, but X_val",
    ),
    (
        "without-early-stopping",
        {"early_stopping": False},
        {"X_val": X_ALL[VAL], "y_val": y_MC[VAL]},
        "early_stopping=False.*set early_stopping=True",
    ),
    (
        "lengths",
        {},
        {"X_val": X_ALL[VAL], "y_val": y_MC[VAL][:-1]},
        r"inconsistent numbers of samples: \[50, 49\]",
    ),
    (
        "features",
        {},
        {"X_val": X_ALL[VAL, :3], "y_val": y_MC[VAL]},
        "X_val has 3 features, but BackpropClassifier is expecting 4",
    ),
    (
        "nan",
        {},
        {"X_val": np.full((50, 4), np.nan), "y_val": y_MC[VAL]},
        "Input X_val contains NaN",
    ),
    (
        "unknown-class",
        {},
        {"X_val": X_ALL[VAL], "y_val": y_MC[VAL] + 5},
        "y_val does not match the training targets.*classes not in",
    ),
    (
        "multilabel-for-multiclass",
        {},
        {"X_val": X_ALL[VAL], "y_val": TARGETS["multilabel"][VAL]},
        "y_val has 2 dimension.s. but the training y has 1",
    ),
    (
        "weights-length",
        {},
        {"X_val": X_ALL[VAL], "y_val": y_MC[VAL], "sample_weight_val": SW_ALL[:3]},
        "sample_weight.shape",
    ),
    (
        "weights-zero",
        {},
        {"X_val": X_ALL[VAL], "y_val": y_MC[VAL], "sample_weight_val": 0 * SW_ALL[VAL]},
        "sample_weight_val: ",
    ),
    (
        "unknown-scorer",
        {"scoring": "no_such_score"},
        {"X_val": X_ALL[VAL], "y_val": y_MC[VAL]},
        "no_such_score",
    ),
]


@pytest.mark.parametrize(
    "params, kwargs, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_validation_input_fails_clearly_and_keeps_the_fitted_state(
    params, kwargs, match
):
    est = _fitted()
    est.set_params(**params)
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match=match):
        est.fit(X_ALL[TRAIN], y_MC[TRAIN], **kwargs)
    assert pickle.dumps(est) == before


def test_regressor_validation_targets():
    est = _estimator("poisson").fit(X_ALL[TRAIN], TARGETS["poisson"][TRAIN])
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match="y_val does not match.*negative"):
        est.fit(
            X_ALL[TRAIN],
            TARGETS["poisson"][TRAIN],
            X_val=X_ALL[VAL],
            y_val=-TARGETS["poisson"][VAL],
        )
    with pytest.raises(ValueError, match="y_val has 2 dimension.s. but the training"):
        est.fit(
            X_ALL[TRAIN],
            TARGETS["poisson"][TRAIN],
            X_val=X_ALL[VAL],
            y_val=np.abs(TARGETS["regression"][VAL]),
        )
    assert pickle.dumps(est) == before
    y = TARGETS["regression"]
    est = _estimator("regression").fit(X_ALL[TRAIN], y[TRAIN])
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match=r"y_val encodes to \(3,\) outputs per row"):
        est.fit(
            X_ALL[TRAIN], y[TRAIN], X_val=X_ALL[VAL], y_val=np.c_[y[VAL], y[VAL, :1]]
        )
    assert pickle.dumps(est) == before


def test_no_warning_for_a_plain_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        _fit("binary", scoring="roc_auc")
