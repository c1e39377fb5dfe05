"""The two estimators: targets, outputs, weights, input formats, fitted attributes."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import OptimizeResult
from sklearn.base import clone
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from skbackprop import (
    BackpropClassifier,
    BackpropRegressor,
    cost_grad,
    pack_params,
    predict_network,
)


@pytest.fixture
def multiclass(seed):
    """90 rows of 5 features, three unbalanced classes, well apart (a working
    classifier fits more than 90% of them)."""
    X, y = make_classification(
        n_samples=90,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        weights=[0.5, 0.3, 0.2],
        class_sep=2.0,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def binary(seed):
    X, y = make_classification(
        n_samples=80,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        class_sep=2.0,
        random_state=seed + 1,
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def multilabel(seed):
    X, Y = make_multilabel_classification(
        n_samples=80, n_features=5, n_classes=3, random_state=seed
    )
    return StandardScaler().fit_transform(X), Y


@pytest.fixture
def regression(seed):
    """70 rows, two standardized targets."""
    X, y = make_regression(
        n_samples=70, n_features=4, n_targets=2, noise=0.1, random_state=seed
    )
    return StandardScaler().fit_transform(X), (y - y.mean(axis=0)) / y.std(axis=0)


@pytest.fixture
def SMALL(seed):
    return {"hidden_layer_sizes": (6,), "random_state": seed}


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def flat(est):
    return pack_params(est.coefs_, est.intercepts_)


def assert_same_params(a, b):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert np.array_equal(p, q)


# -- classifier ------------------------------------------------------------------


def test_binary_has_one_logistic_output(binary, SMALL):
    X2, y2 = binary
    clf = BackpropClassifier(**SMALL).fit(X2, y2)
    assert clf.n_outputs_ == 1
    assert clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (6, 1)
    proba = clf.predict_proba(X2)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Column 1 is the output unit's sigmoid.
    Z = np.maximum(X2 @ clf.coefs_[0] + clf.intercepts_[0], 0)
    Z = Z @ clf.coefs_[1] + clf.intercepts_[1]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-Z[:, 0])), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X2), (proba[:, 1] > 0.5).astype(int))
    assert clf.score(X2, y2) > 0.9


def test_multiclass_softmax(multiclass, SMALL):
    X3, y3 = multiclass
    clf = BackpropClassifier(**SMALL).fit(X3, y3)
    assert clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    proba = clf.predict_proba(X3)
    assert proba.shape == (90, 3)
    assert np.all(proba > 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X3), proba.argmax(axis=1))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X3)), proba, rtol=1e-12)
    assert clf.score(X3, y3) == np.mean(clf.predict(X3) == y3)
    assert clf.score(X3, y3) > 0.9


@pytest.mark.parametrize(
    "labels", [["ant", "bee", "cat"], [-3, 7, 10], ["no", "yes"], [False, True]]
)
def test_string_and_integer_labels(labels, multiclass, binary, SMALL):
    X3, y3 = multiclass
    X2, y2 = binary
    labels = np.array(labels)
    X, y = (X2, y2) if len(labels) == 2 else (X3, y3)
    ref = BackpropClassifier(**SMALL).fit(X, y)
    clf = BackpropClassifier(**SMALL).fit(X, labels[y])
    np.testing.assert_array_equal(clf.classes_, labels)
    # Labels sorting as 0, 1, 2 do: the same problem, the same fit.
    assert_same_params(clf, ref)
    assert clf.predict(X).dtype == labels.dtype
    np.testing.assert_array_equal(clf.predict(X), labels[ref.predict(X)])
    assert clf.score(X, labels[y]) == ref.score(X, y)


def test_labels_in_another_order(multiclass, SMALL):
    X3, y3 = multiclass
    labels = np.array(["zebra", "ant", "moth"])
    clf = BackpropClassifier(**SMALL).fit(X3, labels[y3])
    np.testing.assert_array_equal(clf.classes_, ["ant", "moth", "zebra"])
    proba = clf.predict_proba(X3)
    np.testing.assert_array_equal(clf.predict(X3), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X3, labels[y3]) > 0.9


def test_multilabel_indicator_targets(multilabel, SMALL):
    Xm, Ym = multilabel
    clf = quiet_fit(BackpropClassifier(alpha=1e-2, max_iter=300, **SMALL), Xm, Ym)
    assert clf.n_outputs_ == 3
    assert clf.out_activation_ == "logistic"
    proba = clf.predict_proba(Xm)
    assert proba.shape == (80, 3)
    assert np.all((proba > 0) & (proba < 1))
    assert not np.allclose(proba.sum(axis=1), 1.0)  # independent labels
    pred = clf.predict(Xm)
    assert pred.shape == Ym.shape
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    assert clf.score(Xm, Ym) > 0.6  # subset accuracy


def test_column_vector_y_is_raveled(multiclass, SMALL):
    X3, y3 = multiclass
    clf = BackpropClassifier(**SMALL)
    with pytest.warns(Warning, match="column-vector y"):
        clf.fit(X3, y3.reshape(-1, 1))
    assert clf.predict(X3).shape == (90,)


def test_continuous_targets_raise(multiclass):
    X3, y3 = multiclass
    with pytest.raises(ValueError, match="Unknown label type"):
        BackpropClassifier().fit(X3, X3[:, 0])


def test_single_class_raises(multiclass):
    X3, y3 = multiclass
    with pytest.raises(ValueError, match="class"):
        BackpropClassifier().fit(X3, np.zeros(90))


def test_unfitted_raises(multiclass, regression):
    X3, y3 = multiclass
    Xr, yr = regression
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(BackpropClassifier(), method)(X3)
    with pytest.raises(NotFittedError):
        BackpropRegressor().predict(Xr)


# -- class_weight ------------------------------------------------------------------


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 2.0, 2: 5.0}])
@pytest.mark.parametrize(
    "params",
    [{"max_iter": 40}, {"solver": "gd", "batch_size": 20, "max_iter": 10}],
    ids=["lbfgs", "minibatch-gd"],
)
def test_class_weight_equals_sample_weight(class_weight, params, multiclass, SMALL):
    X3, y3 = multiclass
    weighted = BackpropClassifier(class_weight=class_weight, **params, **SMALL)
    quiet_fit(weighted, X3, y3)
    plain = BackpropClassifier(**params, **SMALL)
    sw = compute_sample_weight(class_weight, y3)
    assert np.ptp(sw) > 0
    quiet_fit(plain, X3, y3, sample_weight=sw)
    assert_same_params(weighted, plain)
    unweighted = quiet_fit(BackpropClassifier(**params, **SMALL), X3, y3)
    assert not np.allclose(flat(unweighted), flat(weighted))


def test_class_weight_none_is_unweighted(multiclass, SMALL):
    X3, y3 = multiclass
    a = quiet_fit(BackpropClassifier(class_weight=None, max_iter=30, **SMALL), X3, y3)
    b = quiet_fit(BackpropClassifier(max_iter=30, **SMALL), X3, y3, np.ones(90))
    np.testing.assert_allclose(flat(a), flat(b), rtol=1e-10, atol=1e-12)


def test_class_weight_multiplies_sample_weight(multiclass, SMALL, seed):
    X3, y3 = multiclass
    sw = np.random.default_rng(seed).uniform(0.5, 2.0, 90)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = BackpropClassifier(class_weight=cw, max_iter=30, **SMALL)
    quiet_fit(a, X3, y3, sample_weight=sw)
    b = BackpropClassifier(max_iter=30, **SMALL)
    quiet_fit(b, X3, y3, sample_weight=sw * compute_sample_weight(cw, y3))
    assert_same_params(a, b)


def test_balanced_class_weight_helps_the_minority_class(SMALL, seed):
    X, y = make_classification(
        n_samples=200,
        n_features=4,
        weights=[0.9, 0.1],
        flip_y=0.05,
        random_state=seed + 3,
    )
    plain = quiet_fit(BackpropClassifier(alpha=1.0, **SMALL), X, y)
    balanced = quiet_fit(
        BackpropClassifier(alpha=1.0, class_weight="balanced", **SMALL), X, y
    )
    recall = [np.mean(m.predict(X)[y == 1] == 1) for m in (plain, balanced)]
    assert recall[1] > recall[0]


# -- regressor ---------------------------------------------------------------------


def test_regressor_single_output(regression, SMALL):
    Xr, yr = regression
    reg = BackpropRegressor(max_iter=300, **SMALL).fit(Xr, yr[:, 0])
    assert reg.n_outputs_ == 1
    assert reg.out_activation_ == "identity"
    pred = reg.predict(Xr)
    assert pred.shape == (70,)
    assert reg.score(Xr, yr[:, 0]) > 0.95
    Z = np.maximum(Xr @ reg.coefs_[0] + reg.intercepts_[0], 0)
    np.testing.assert_allclose(pred, (Z @ reg.coefs_[1] + reg.intercepts_[1])[:, 0])


def test_regressor_multi_output(regression, SMALL):
    Xr, yr = regression
    reg = BackpropRegressor(max_iter=300, **SMALL).fit(Xr, yr)
    assert reg.n_outputs_ == 2
    assert reg.predict(Xr).shape == (70, 2)
    assert reg.coefs_[-1].shape == (6, 2)
    assert reg.score(Xr, yr) > 0.95


def test_poisson_regressor(SMALL, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 3))
    y = rng.poisson(np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1]))
    reg = quiet_fit(BackpropRegressor(loss="poisson", **SMALL), X, y)
    assert reg.out_activation_ == "exp"
    pred = reg.predict(X)
    assert pred.shape == (120,)
    assert np.all(pred > 0)
    # Far better than the best constant, the mean count.
    sq = quiet_fit(BackpropRegressor(**SMALL), X, y)
    assert reg.score(X, y) > 0.3
    assert abs(np.mean(pred) - np.mean(y)) < 0.1 * np.mean(y)
    assert not np.allclose(pred, sq.predict(X))


def test_poisson_rejects_negative_targets(regression, SMALL):
    Xr, yr = regression
    with pytest.raises(ValueError, match="negative"):
        BackpropRegressor(loss="poisson").fit(Xr, yr[:, 0])
    BackpropRegressor(loss="poisson", max_iter=5, **SMALL)


def test_regressor_rejects_unknown_loss(regression):
    Xr, yr = regression
    with pytest.raises(ValueError, match="loss"):
        BackpropRegressor(loss="hinge").fit(Xr, yr)


# -- sample_weight -----------------------------------------------------------------


@pytest.mark.parametrize(
    "Est, data",
    [(BackpropClassifier, "multiclass"), (BackpropRegressor, "regression")],
    ids=["classifier", "regressor"],
)
def test_integer_sample_weight_equals_repeated_rows(Est, data, request, SMALL, seed):
    X, y = request.getfixturevalue(data)
    sw = np.random.default_rng(seed).integers(0, 4, X.shape[0])
    params = {"solver": "trust-ncg", "alpha": 0.1, "tol": 1e-6, "activation": "tanh"}
    weighted = Est(**params, **SMALL).fit(X, y, sample_weight=sw)
    X_rep, y_rep = np.repeat(X, sw, axis=0), np.repeat(y, sw, axis=0)
    repeated = Est(**params, **SMALL).fit(X_rep, y_rep)
    # The same cost J and gradient D, their sums in another order.  Rounding
    # may part the two paths (to neighbouring points of a flat valley), but
    # each fit is a fit of the other data: it meets their gradient test,
    # max |D| <= tol, to the rounding of D's sums (m eps times the largest
    # row's term), and its loss is their cost at its parameters.
    classifier = Est is BackpropClassifier
    loss = "log_loss" if classifier else "squared_error"
    sizes = (X.shape[1], 6, 3 if classifier else y.shape[1])
    eps = np.finfo(float).eps
    for est, (X_, y_, sw_) in (
        (weighted, (X_rep, y_rep, None)),
        (repeated, (X, y, sw.astype(float))),
    ):
        assert est.optimize_result_.success
        Y_ = np.eye(3)[y_] if classifier else y_
        args = (flat(est), X_, Y_, sizes, "tanh", loss, est.alpha)
        J, D = cost_grad(*args, sample_weight=sw_)
        rows = [
            cost_grad(*args[:1], X_[i : i + 1], Y_[i : i + 1], *args[3:])[1]
            for i in range(len(X_))
        ]
        rounding = len(X_rep) * eps * np.abs(rows).max()
        assert np.abs(D).max() <= est.tol + rounding
        assert est.loss_ == pytest.approx(J, rel=len(X_rep) * eps)
    unweighted = Est(**params, **SMALL).fit(X, y)
    assert not np.allclose(flat(unweighted), flat(weighted), rtol=1e-3)


def test_sample_weight_is_the_weighted_cost(multiclass, SMALL, seed):
    X3, y3 = multiclass
    sw = np.random.default_rng(seed + 1).uniform(0.1, 3.0, 90)
    clf = quiet_fit(BackpropClassifier(max_iter=20, **SMALL), X3, y3, sw)
    J = cost_grad(
        flat(clf), X3, np.eye(3)[y3], (5, 6, 3), alpha=clf.alpha, sample_weight=sw
    )
    assert clf.loss_ == pytest.approx(J[0], rel=1e-12)


def test_bad_sample_weight_raises(multiclass):
    X3, y3 = multiclass
    with pytest.raises(ValueError):
        BackpropClassifier().fit(X3, y3, sample_weight=-np.ones(90))
    with pytest.raises(ValueError, match="non-zero|sum to zero"):
        BackpropClassifier().fit(X3, y3, sample_weight=np.zeros(90))
    with pytest.raises(ValueError):
        BackpropClassifier().fit(X3, y3, sample_weight=np.ones(5))


# -- sparse and float32 ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["L-BFGS-B", "gd"])
def test_sparse_equals_dense(fmt, solver, multiclass, SMALL):
    X3, y3 = multiclass
    X = X3.copy()
    X[np.abs(X) < 0.7] = 0.0
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    params = {"solver": solver, "max_iter": 20, **SMALL}
    dense = quiet_fit(BackpropClassifier(**params), X, y3)
    sparse = quiet_fit(BackpropClassifier(**params), Xs, y3)
    for a, b in zip(dense.coefs_, sparse.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(
        sparse.predict_proba(Xs), dense.predict_proba(X), rtol=1e-9, atol=1e-11
    )
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(X))
    assert sparse.loss_ == pytest.approx(dense.loss_, rel=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "L-BFGS-B", "max_iter": 30},
        {"solver": "Newton-CG", "max_iter": 10},
        {"solver": "trust-ncg", "max_iter": 10, "curvature": "gauss-newton"},
        {"solver": "gd", "max_iter": 30},
        {"solver": "gd", "batch_size": 16, "max_iter": 10, "momentum": 0.9},
    ],
    ids=lambda p: "-".join(str(v) for v in p.values()),
)
@pytest.mark.parametrize("Est", [BackpropClassifier, BackpropRegressor])
def test_float32_stays_float32(Est, params, multiclass, regression, SMALL):
    X, y = multiclass if Est is BackpropClassifier else regression
    params = {"alpha": 0.1, "activation": "tanh", **params, **SMALL}
    est32 = quiet_fit(Est(**params), X.astype(np.float32), y)
    est64 = quiet_fit(Est(**params), X, y)
    for p in est32.coefs_ + est32.intercepts_:
        assert p.dtype == np.float32
    for p in est64.coefs_ + est64.intercepts_:
        assert p.dtype == np.float64
    classifier = Est is BackpropClassifier
    X32 = X.astype(np.float32)
    out32 = est32.predict_proba(X32) if classifier else est32.predict(X32)
    assert out32.dtype == np.float32
    assert isinstance(est32.loss_, float)
    # float32 changes the rounding only.  Its outputs are float64's of the
    # same parameters to float32's rounding of the forward pass (the sums
    # of each layer's products: eps32 times their terms' size each); its
    # loss is their float64 cost to that of a sum of m rows.  (The fits
    # themselves part with the rounding along their paths: the convex case
    # is compared below, the float32 stopping rules in test_sklearn_parity.)
    theta = flat(est32).astype(np.float64)
    loss = "log_loss" if classifier else "squared_error"
    sizes = (X.shape[1], 6, est32.n_outputs_)
    Z = predict_network(theta, X, sizes, "tanh", "squared_error")
    out = predict_network(theta, X, sizes, "tanh", loss)
    eps32 = float(np.finfo(np.float32).eps)
    atol = sum(sizes) * eps32 * np.abs(Z).max(initial=1.0)
    np.testing.assert_allclose(out32, out, rtol=0, atol=atol)
    if params["solver"] != "gd":  # gd's loss_ is that of the last step's start
        Y = np.eye(3)[y] if classifier else y
        J = cost_grad(theta, X, Y, sizes, "tanh", loss, alpha=0.1)[0]
        assert est32.loss_ == pytest.approx(J, rel=len(X) * eps32)


@pytest.mark.parametrize("solver", ["L-BFGS-B", "Newton-CG", "trust-ncg"])
def test_float32_fit_is_float64s_to_the_conditioning(solver, regression, seed):
    # Linear regression with a penalty: a strongly convex quadratic J whose
    # Hessian H is [X 1]'[X 1] / m + alpha P / m, so that any theta lies
    # within |grad J(theta)| / lambda_min(H) of the minimum: the float32 and
    # float64 fits within the sum of theirs, measured in float64.
    X, y = regression
    params = {"alpha": 0.1, "tol": 1e-4, "max_iter": 500, "random_state": seed}
    fits = [
        BackpropRegressor((), solver=solver, **params).fit(X.astype(dtype), y)
        for dtype in (np.float32, np.float64)
    ]
    m, sizes = len(X), (X.shape[1], y.shape[1])
    A = np.hstack([X, np.ones((m, 1))])
    P = np.r_[np.ones(X.shape[1]), 0.0]
    mu = np.linalg.eigvalsh(A.T @ A / m + np.diag(0.1 * P / m)).min()
    thetas = [flat(est).astype(np.float64) for est in fits]
    grads = [
        cost_grad(t, X, y, sizes, "relu", "squared_error", alpha=0.1)[1] for t in thetas
    ]
    distance = np.linalg.norm(thetas[0] - thetas[1])
    assert distance <= sum(np.linalg.norm(g) for g in grads) / mu
    assert max(np.abs(g).max() for g in grads) <= 1e-4 * 10


def test_float64_predictions_of_a_float32_model(multiclass, SMALL):
    X3, y3 = multiclass
    clf = quiet_fit(BackpropClassifier(max_iter=20, **SMALL), X3.astype(np.float32), y3)
    np.testing.assert_array_equal(clf.predict(X3), clf.predict(X3.astype(np.float32)))


# -- fitted attributes --------------------------------------------------------------


@pytest.mark.parametrize("solver", ["L-BFGS-B", "gd"])
def test_fitted_attributes(solver, multiclass, seed):
    X3, y3 = multiclass
    clf = BackpropClassifier(hidden_layer_sizes=(7, 4), solver=solver, max_iter=15)
    clf.set_params(random_state=seed)
    quiet_fit(clf, X3, y3)
    assert [c.shape for c in clf.coefs_] == [(5, 7), (7, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (4,), (3,)]
    assert all(isinstance(c, np.ndarray) for c in clf.coefs_ + clf.intercepts_)
    assert clf.n_layers_ == 4
    assert clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 5
    assert not hasattr(clf, "feature_names_in_")
    assert isinstance(clf.n_iter_, int) and clf.n_iter_ == 15
    assert isinstance(clf.loss_, float)
    assert isinstance(clf.loss_curve_, list) and len(clf.loss_curve_) == 15
    assert all(isinstance(v, float) for v in clf.loss_curve_)
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None
    assert clf.best_validation_score_ is None
    if solver == "gd":
        assert clf.optimize_result_ is None
    else:
        assert isinstance(clf.optimize_result_, OptimizeResult)


def test_fitted_attributes_with_early_stopping(regression, SMALL):
    Xr, yr = regression
    reg = BackpropRegressor(early_stopping=True, max_iter=30, **SMALL)
    quiet_fit(reg, Xr, yr)
    assert reg.best_loss_ is None
    assert isinstance(reg.validation_scores_, list)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert all(isinstance(v, float) for v in reg.validation_scores_)
    assert isinstance(reg.best_validation_score_, float)
    assert reg.best_validation_score_ == max(reg.validation_scores_)


def test_no_hidden_layer_is_a_linear_model(binary, seed):
    X2, y2 = binary
    clf = BackpropClassifier(hidden_layer_sizes=(), random_state=seed).fit(X2, y2)
    assert clf.n_layers_ == 2
    assert [c.shape for c in clf.coefs_] == [(4, 1)]
    # Logistic regression: J = (1/m) sum log-loss + alpha/(2m) |w|^2 is
    # scikit-learn's objective with C = 1/alpha, convex, with one minimum.
    # Run to L-BFGS-B's stop, J is within 10 ftol max(J, 1) of it (a linear
    # rate of at most 0.9 after SciPy's relative-reduction stop), and J,
    # alpha/m-strongly convex in the weights, puts them within sqrt(2 gap m /
    # alpha) of the minimum's (as does scikit-learn, run to 1e-12).
    alpha, m = 1.0, len(X2)
    clf = BackpropClassifier((), alpha=alpha, tol=1e-10, max_iter=1000).fit(X2, y2)
    lr = LogisticRegression(C=1 / alpha, tol=1e-12, max_iter=10_000).fit(X2, y2)
    J_lr = cost_grad(
        np.r_[lr.coef_.ravel(), lr.intercept_],
        X2,
        y2[:, None].astype(float),
        (4, 1),
        loss="binary_log_loss",
        alpha=alpha,
    )[0]
    gap = 10 * 1e7 * np.finfo(float).eps * max(J_lr, 1.0)  # ftol = factr eps
    assert J_lr - 1e-12 <= clf.loss_ <= J_lr + gap
    distance = np.linalg.norm(clf.coefs_[0].ravel() - lr.coef_.ravel())
    assert distance <= 2 * np.sqrt(2 * gap * m / alpha)


def test_feature_names_from_a_dataframe(multiclass, regression, SMALL):
    X3, y3 = multiclass
    Xr, yr = regression
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X3, columns=[f"f{i}" for i in range(5)])
    clf = quiet_fit(BackpropClassifier(max_iter=10, **SMALL), df, y3)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns.to_numpy())
    assert clf.n_features_in_ == 5
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(clf.predict(df), clf.predict(X3))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df.rename(columns={"f0": "other"}))
    reg = quiet_fit(BackpropRegressor(max_iter=10, **SMALL), df.iloc[:70], yr)
    np.testing.assert_array_equal(reg.feature_names_in_, df.columns.to_numpy())


def test_wrong_number_of_features_raises(multiclass, SMALL):
    X3, y3 = multiclass
    clf = quiet_fit(BackpropClassifier(max_iter=5, **SMALL), X3, y3)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X3[:, :4])


def test_refit_forgets_the_previous_problem(multiclass, binary, SMALL):
    X3, y3 = multiclass
    X2, y2 = binary
    clf = quiet_fit(BackpropClassifier(max_iter=20, **SMALL), X3, y3)
    quiet_fit(clf, X2, y2)
    assert clf.n_features_in_ == 4
    assert clf.n_outputs_ == 1
    assert list(clf.classes_) == [0, 1]
    fresh = quiet_fit(BackpropClassifier(max_iter=20, **SMALL), X2, y2)
    assert_same_params(clf, fresh)


def test_constructor_only_stores(multiclass):
    X3, y3 = multiclass
    est = BackpropClassifier(hidden_layer_sizes=[3, 2], solver="nonsense", alpha=-1)
    assert est.hidden_layer_sizes == [3, 2]
    assert est.solver == "nonsense"
    with pytest.raises(ValueError):
        est.fit(X3, y3)
    assert clone(est).get_params() == est.get_params()
