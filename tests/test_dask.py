"""Training on Dask collections: the batch gradient summed over a cluster's blocks."""

import ast
import os
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import skbackprop
from skbackprop import BackpropClassifier, BackpropRegressor
from skbackprop._engine.r_operator import network_hessp

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    """A real two-process cluster on the loopback interface, shared by the module."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _problem(n=150, n_features=4, seed=0, kind="multiclass"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2
    if kind == "multiclass":
        y = np.digitize(score, [-0.5, 0.8])
    elif kind == "binary":
        y = np.where(score > 0.3, "yes", "no")
    elif kind == "multilabel":
        y = np.stack([score > 0.3, X[:, 2] > 0, X[:, 3] > 0.5], axis=1).astype(int)
    else:
        y = np.stack([score, X[:, 2] - X[:, 3]], axis=1)
    sw = rng.uniform(0.2, 2.0, size=n)
    return X, y, sw


def _chunked(a, rows):
    return da.from_array(a, chunks=(rows,) + a.shape[1:])


def _params(est):
    return np.concatenate([p.ravel() for p in est.coefs_ + est.intercepts_])


def _assert_same_fit(a, b, atol=1e-10):
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(_params(b), _params(a), rtol=0, atol=atol)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-11)


UNEVEN = (1, 0, 40, 7, 1, 61, 40)  # 150 rows: a 0-row block and 1-row blocks


@pytest.mark.parametrize(
    "Estimator, kind, solver, curvature",
    [
        (BackpropClassifier, "multiclass", "L-BFGS-B", "exact"),
        (BackpropClassifier, "binary", "gd", "exact"),
        (BackpropClassifier, "multilabel", "trust-ncg", "gauss-newton"),
        (BackpropRegressor, "regression", "trust-ncg", "exact"),
    ],
)
def test_fit_matches_in_memory(client, Estimator, kind, solver, curvature, seed):
    X, y, sw = _problem(kind=kind)
    params = dict(
        hidden_layer_sizes=(6,),
        activation="tanh",
        solver=solver,
        curvature=curvature,
        alpha=1e-3,
        max_iter=6 if solver in ("L-BFGS-B", "gd") else 3,
        tol=0.0,
        random_state=seed,
    )
    memory = Estimator(**params).fit(X, y, sample_weight=sw)
    dask_fit = Estimator(**params).fit(
        _chunked(X, UNEVEN), _chunked(y, 50), sample_weight=_chunked(sw, 30)
    )
    _assert_same_fit(memory, dask_fit)


def test_monotonic_fit_matches_in_memory(client, seed):
    # The bounds live in the training settings: the same for any objective.
    X, y, sw = _problem(kind="binary")
    params = dict(
        hidden_layer_sizes=(5,),
        activation=["softplus"],
        monotonic_cst=[1, -1, 0, 0],
        max_iter=6,
        tol=0.0,
        random_state=seed,
    )
    memory = BackpropClassifier(**params).fit(X, y, sample_weight=sw)
    dask_fit = BackpropClassifier(**params).fit(
        _chunked(X, UNEVEN), _chunked(y, 50), sample_weight=_chunked(sw, 30)
    )
    _assert_same_fit(memory, dask_fit)
    assert (dask_fit.coefs_[0][0] >= 0).all() and (dask_fit.coefs_[1] >= 0).all()


def test_cost_grad_and_hessp_match_in_memory(client, seed):
    from skbackprop._data import backend

    X, y, sw = _problem(kind="multiclass")
    est = BackpropClassifier((5, 3), activation="tanh", alpha=0.1)
    X_dask = _chunked(X, UNEVEN)
    objective, _ = backend(X_dask).objective(
        est, X_dask, y, sw, (5, 3), incremental=False, first_pass=True
    )
    net = objective.net
    Y = np.eye(3)[y]
    rng = np.random.default_rng(seed + 1)
    theta, v = rng.normal(size=(2, net.n_params))
    J, D = objective.cost_grad(theta)
    J0, D0 = net.cost_grad(theta, X, Y, sw, 0.1)
    assert J == pytest.approx(J0, rel=1e-13)
    np.testing.assert_allclose(D, D0, rtol=0, atol=1e-13)
    for curvature in ("exact", "gauss-newton"):
        Hv = objective.hessp(theta, v, curvature)
        expected = network_hessp(net, theta, v, X, Y, sw, 0.1, curvature)
        np.testing.assert_allclose(Hv, expected, rtol=0, atol=1e-13)
    assert objective.n_samples == 150
    assert objective.weight_sum == pytest.approx(sw.sum(), rel=1e-14)


def test_class_weight_and_float32(client, seed):
    X, y, sw = _problem(kind="multiclass")
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(4,), max_iter=8, random_state=seed, tol=0.0)
    params["class_weight"] = "balanced"
    memory = BackpropClassifier(**params).fit(X, y)
    dask_fit = BackpropClassifier(**params).fit(_chunked(X, 37), _chunked(y, 37))
    assert dask_fit.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(_params(dask_fit), _params(memory), atol=1e-4)
    np.testing.assert_array_equal(dask_fit.classes_, memory.classes_)


@pytest.mark.filterwarnings("error:X does not have valid feature names")
def test_dataframe_input(client, seed):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, sw = _problem(kind="binary")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    params = dict(hidden_layer_sizes=(5,), max_iter=10, random_state=seed, tol=0.0)
    memory = BackpropClassifier(**params).fit(frame, y, sample_weight=sw)
    Xd = dd.from_pandas(frame, npartitions=3)
    yd = dd.from_pandas(pd.Series(y), npartitions=3)
    swd = dd.from_pandas(pd.Series(sw), npartitions=2)
    dask_fit = BackpropClassifier(**params).fit(Xd, yd, sample_weight=swd)
    _assert_same_fit(memory, dask_fit)
    np.testing.assert_array_equal(dask_fit.feature_names_in_, ["a", "b", "c", "d"])
    pred = dask_fit.predict(Xd)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), memory.predict(frame))
    assert dask_fit.score(Xd, yd) == pytest.approx(memory.score(frame, y), rel=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        dask_fit.predict(Xd.rename(columns={"a": "z"}))


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression"])
def test_predictions_are_lazy_and_equal(client, kind, seed):
    X, y, sw = _problem(kind=kind)
    Estimator = BackpropRegressor if kind == "regression" else BackpropClassifier
    est = Estimator((5,), max_iter=20, random_state=seed).fit(X, y)
    Xd = _chunked(X, UNEVEN)
    pred = est.predict(Xd)
    assert isinstance(pred, da.Array)
    assert pred.shape == np.shape(y)
    # Blocks of other sizes may round the products differently (BLAS kernels).
    if Estimator is BackpropRegressor:
        np.testing.assert_allclose(pred.compute(), est.predict(X), rtol=1e-12)
    else:
        np.testing.assert_array_equal(pred.compute(), est.predict(X))
    score = est.score(Xd, _chunked(y, 50), sample_weight=_chunked(sw, 50))
    assert isinstance(score, float)
    assert score == pytest.approx(est.score(X, y, sample_weight=sw), rel=1e-12)
    if Estimator is BackpropClassifier:
        for method in ("predict_proba", "predict_log_proba"):
            lazy = getattr(est, method)(Xd)
            assert isinstance(lazy, da.Array)
            np.testing.assert_allclose(
                lazy.compute(), getattr(est, method)(X), rtol=1e-12, atol=0
            )


def test_worker_failure_is_retried_or_reported(client, seed):
    """Killing a worker mid-fit never yields a silently wrong gradient."""
    X, y, sw = _problem(n=600, kind="multiclass")
    params = dict(hidden_layer_sizes=(6,), max_iter=10, random_state=seed, tol=0.0)
    memory = BackpropClassifier(**params).fit(X, y, sample_weight=sw)
    pids = client.run(os.getpid)
    killed = []

    def kill_a_worker(state):
        if state.nit == 3 and not killed:
            pid = pids[sorted(pids)[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    est = BackpropClassifier(**params, callback=kill_a_worker)
    try:
        est.fit(_chunked(X, 50), _chunked(y, 50), sample_weight=_chunked(sw, 50))
    except (distributed.KilledWorker, distributed.client.FutureCancelledError) as exc:
        assert not hasattr(est, "coefs_"), exc  # the fit is rolled back
    else:
        _assert_same_fit(memory, est)
    assert killed
    client.wait_for_workers(2, timeout=60)


def test_unsupported_settings_raise(client):
    X, y, _ = _problem()
    Xd, yd = _chunked(X, 50), _chunked(y, 50)
    with pytest.raises(ValueError, match="early_stopping"):
        BackpropClassifier(early_stopping=True).fit(Xd, yd)
    with pytest.raises(ValueError, match="with X_val.* not supported for Dask"):
        BackpropClassifier(early_stopping=True).fit(Xd, yd, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="batch_size"):
        BackpropClassifier(solver="gd", batch_size=32).fit(Xd, yd)


def test_validation_runs_on_the_cluster(client):
    X, y, sw = _problem()
    Xd, yd = _chunked(X, 50), _chunked(y, 50)
    bad = X.copy()
    bad[77, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BackpropClassifier(max_iter=2).fit(_chunked(bad, 50), yd)
    with pytest.raises(ValueError, match="one class"):
        BackpropClassifier(max_iter=2).fit(Xd, da.zeros(150, chunks=50))
    with pytest.raises(ValueError, match="Unknown label type"):
        BackpropClassifier(max_iter=2).fit(Xd, _chunked(X[:, 0], 50))
    with pytest.raises(ValueError, match="Negative"):
        BackpropClassifier(max_iter=2).fit(Xd, yd, sample_weight=_chunked(-sw, 50))
    with pytest.raises(ValueError, match="negative"):
        BackpropRegressor(loss="poisson", max_iter=2).fit(Xd, _chunked(X[:, 0], 50))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BackpropClassifier(max_iter=2).fit(Xd, y[:100])
    est = BackpropClassifier((3,), max_iter=2).fit(Xd, yd)
    with pytest.raises(ValueError, match="features"):
        est.predict(_chunked(X[:, :3], 50))


def test_local_scheduler_without_client(seed):
    """Without a Client the local threaded scheduler runs the same sums; the
    data are loaded once per fit, not once per evaluation."""
    X, y, sw = _problem(kind="regression")
    params = dict(hidden_layer_sizes=(4,), max_iter=10, random_state=seed, tol=0.0)
    memory = BackpropRegressor(**params).fit(X, y, sample_weight=sw)
    loads = []

    def load(block):
        loads.append(block.shape[0])
        return block

    Xd = _chunked(X, 20).map_blocks(load, meta=X[:0])
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dask_fit = BackpropRegressor(**params).fit(
            Xd, _chunked(y, 20), sample_weight=_chunked(sw, 20)
        )
    _assert_same_fit(memory, dask_fit)
    assert dask_fit.n_iter_ == 10
    assert sorted(loads) == sorted([20] * 7 + [10])  # each block loaded once


def test_dask_stays_optional():
    """No module of the package imports Dask at import time (only inside functions)."""
    package = Path(skbackprop.__file__).parent
    checked = 0
    for path in package.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            checked += 1
            for name in names:
                assert name.split(".")[0] not in ("dask", "distributed"), path.name
    assert checked > 20


@pytest.mark.parametrize("geodesic", [False, True])
@pytest.mark.parametrize(
    "Estimator, kind",
    [(BackpropClassifier, "multiclass"), (BackpropRegressor, "regression")],
)
def test_levenberg_marquardt_matches_in_memory(client, Estimator, kind, geodesic, seed):
    # G and D summed over the blocks, as the gradient is; cost from forward
    # passes on the blocks; the geodesic acceleration's product too.
    X, y, sw = _problem(kind=kind)
    params = dict(
        hidden_layer_sizes=(5,),
        activation="tanh",
        solver="lm",
        solver_options={"geodesic": geodesic},
        alpha=1e-3,
        max_iter=4,
        tol=0.0,
        random_state=seed,
    )
    memory = Estimator(**params).fit(X, y, sample_weight=sw)
    dask_fit = Estimator(**params).fit(
        _chunked(X, UNEVEN), _chunked(y, 50), sample_weight=_chunked(sw, 30)
    )
    _assert_same_fit(memory, dask_fit)
    with pytest.raises(ValueError, match="least_squares.*in memory.*solver='lm'"):
        BackpropRegressor(solver="least_squares").fit(
            _chunked(X, 50), _chunked(X[:, 0], 50)
        )


@pytest.mark.parametrize("loss", ["huber", "quantile"])
def test_losses_with_thresholds_fit_on_dask(client, loss):
    # The threshold comes from Dask's percentiles of the targets; with the
    # in-memory fit's loss given explicitly the two fits are the same.
    X, y, _ = _problem(kind="regression")
    y = y[:, 0]
    params = {"loss": loss, "quantile": 0.7, "hidden_layer_sizes": (4,)}
    est = BackpropRegressor(random_state=0, max_iter=30, **params)
    lazy = est.fit(_chunked(X, 40), _chunked(y, 40))
    memory = BackpropRegressor(random_state=0, max_iter=30, **params).fit(X, y)
    assert lazy.loss_function_.delta == pytest.approx(
        memory.loss_function_.delta, rel=0.1
    )
    exact = BackpropRegressor(
        random_state=0, max_iter=30, hidden_layer_sizes=(4,), loss=lazy.loss_function_
    ).fit(X, y)
    # The same cost summed in another order: the paths agree to the rounding
    # that 30 L-BFGS-B iterations amplify (more on the pinball loss's
    # rounded kink than on a smooth loss).
    assert lazy.loss_ == pytest.approx(exact.loss_, rel=1e-6)
    np.testing.assert_allclose(lazy.predict(X), exact.predict(X), rtol=0, atol=1e-4)
