"""Training and prediction on Dask collections: the batch gradient over blocks.

The batch gradient of seed 001 is a sum over examples, so it splits exactly
over the row blocks of a Dask array.  Each block computes its loss sum and
the unnormalized ``Delta(l)`` and bias sums (:meth:`Network._accumulate`);
a tree of additions on the workers brings them to one parameter-sized
vector, and the client adds the penalty and divides by ``S`` exactly as
:meth:`Network.cost_grad` does.  The optimizer runs on the client as usual.

Per fit, the data (``X``, the encoded targets ``Y`` and the sample weights)
are validated with reductions and persisted on the workers once.  Per
evaluation, the graph carries the parameter vector (one task, fetched once
by each worker that needs it) and brings back one ``(J, D)`` pair.
``H v`` products for the Newton-type solvers are summed the same way
(:func:`~skbackprop._hessian.hessp_sum`).

Dask is optional: this module is imported only when a Dask collection is
passed, and imports Dask inside its functions.
"""

import contextlib
import itertools
import uuid
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
)

from skbackprop._hessian import hessp_sum
from skbackprop._network import Network, forward_layers

# Fan-in of the tree that adds the blocks' partial sums on the workers.
_SPLIT_EVERY = 8


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - only without Dask
        raise ImportError(
            "Dask input needs dask: pip install 'skbackprop[dask]'."
        ) from exc
    return dask, da


# -- conversion and validation ---------------------------------------------------
def _as_dask_array(a, name, rows=None, lengths=True):
    """``a`` as a Dask array with known row chunks (aligned to ``rows``).

    ``lengths=False`` leaves unknown row chunks unknown (lazy prediction).
    """
    dask, da = _require_dask()
    if hasattr(a, "to_dask_array"):  # Dask DataFrame or Series
        a = a.to_dask_array(lengths=True if lengths else None)
    elif not isinstance(a, da.Array):
        if dask.is_dask_collection(a):
            raise TypeError(
                f"{name} must be a Dask array, DataFrame or Series, got "
                f"{type(a).__name__}."
            )
        a = np.asarray(a)
        if rows is None:
            return da.from_array(a)
        if a.ndim == 0 or a.shape[0] != sum(rows):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{sum(rows)}, {a.shape[0] if a.ndim else 0}] (X and {name})."
            )
        return da.from_array(a, chunks=(rows,) + a.shape[1:])
    if lengths and any(np.isnan(c) for c in a.chunks[0]):
        a = a.compute_chunk_sizes()
    if rows is not None:
        if a.shape[0] != sum(rows):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{sum(rows)}, {a.shape[0]}] (X and {name})."
            )
        if a.chunks[0] != rows:
            a = a.rechunk({0: rows})
    if a.ndim == 2 and a.numblocks[1] > 1:
        a = a.rechunk({1: -1})
    return a


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _check_X(est, X, reset, lengths=True):
    """``X`` as a 2-D floating Dask array, with feature names and count checked."""
    # A Dask DataFrame's _meta is an empty pandas DataFrame with its columns.
    _check_feature_names(est, getattr(X, "_meta", X), reset=reset)
    X = _as_dask_array(X, "X", lengths=lengths)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional Dask array for X, got {X.ndim} dimension(s)."
        )
    if X.shape[1] < 1:
        raise ValueError("X has 0 features; at least 1 is required.")
    _check_n_features(est, X, reset=reset)
    if 0 in X.chunks[0] and X.shape[0] > 0:
        # Empty blocks carry nothing, and some of Dask's reductions fail on them.
        X = X.rechunk({0: tuple(c for c in X.chunks[0] if c)})
    dtype = _float_dtype(X.dtype)
    return X.astype(dtype) if X.dtype != dtype else X


def _column_or_1d(y):
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please "
            "change the shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=5,
        )
        return y[:, 0]
    return y


def _unsupported(est, n_samples):
    """Settings that need the data on the client: refuse them clearly."""
    if est.early_stopping:
        raise ValueError(
            "early_stopping=True is not supported for Dask input: the validation "
            "split would shuffle the data across the cluster. Hold out a "
            "validation set yourself (e.g. dask_ml.model_selection."
            "train_test_split) and use callback to score it."
        )
    if (
        est._solver_name() == "gd"
        and est.batch_size is not None
        and est.batch_size < n_samples
    ):
        raise ValueError(
            f"Mini-batch gradient descent (batch_size={est.batch_size}) is not "
            "supported for Dask input: it trains on the full batch, summed over "
            "the blocks. Set batch_size=None, or use a SciPy solver."
        )


def _encode_labels(y, classes, multilabel, dtype):
    """One block of labels in the output encoding (as ``LabelBinarizer``)."""
    if multilabel:
        return np.asarray(y, dtype=dtype)
    if len(classes) == 2:
        return (y == classes[1]).astype(dtype)[:, None]
    return (y[:, None] == classes[None, :]).astype(dtype)


def _lookup_weights(y, classes, weights):
    """One block of per-row class weights."""
    return weights[np.searchsorted(classes, y)]


def _classifier_targets(est, y, incremental, dtype):
    """Encoded targets, per-row class weights (or None), the loss name.

    Only the unique labels (and their counts) travel to the client.
    """
    dask, da = _require_dask()
    y = _column_or_1d(y)
    if y.ndim == 1:
        classes, counts = dask.compute(*da.unique(y, return_counts=True))
        target_type = type_of_target(classes, input_name="y")
    elif y.ndim == 2:
        values = da.unique(y).compute()
        is_indicator = y.shape[1] > 1 and set(values.tolist()) <= {0, 1}
        target_type = "multilabel-indicator" if is_indicator else "unknown"
        classes, counts = np.arange(y.shape[1]), None
    else:
        target_type, classes, counts = "unknown", None, None
    multilabel = target_type == "multilabel-indicator"
    est._set_or_check_classes(
        target_type,
        np.eye(y.shape[1], dtype=int) if multilabel else classes,
        incremental,
    )
    binarizer = est._label_binarizer
    multilabel = binarizer.y_type_.startswith("multilabel")
    all_classes = binarizer.classes_
    n_out = 1 if binarizer.y_type_ == "binary" else len(all_classes)
    Y = y.map_blocks(
        _encode_labels,
        all_classes,
        multilabel,
        dtype,
        dtype=dtype,
        chunks=(y.chunks[0], (n_out,)),
        new_axis=None if multilabel else 1,
    )
    row_weights = None
    if est.class_weight is not None:
        if multilabel:
            raise ValueError(
                "class_weight is not supported for multilabel Dask targets; "
                "pass the weights as sample_weight."
            )
        # compute_sample_weight's numbers, from the counts instead of y.
        weights = compute_class_weight(
            est.class_weight,
            classes=classes,
            y=classes,
            sample_weight=counts.astype(np.float64),
        ).astype(dtype)
        row_weights = y.map_blocks(
            _lookup_weights, classes, weights, dtype=dtype, meta=np.empty(0, dtype)
        )
    return Y, row_weights, est._loss_name(None)


def _regressor_targets(est, y, dtype):
    """Targets as 2-D floats (checked with reductions), no weights, the loss."""
    dask, da = _require_dask()
    y = _column_or_1d(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got {y.ndim} dimensions.")
    if y.dtype.kind not in "fiub":
        y = y.astype(np.float64)
    finite, minimum = dask.compute(da.isfinite(y).all(), y.min())
    if not finite:
        raise ValueError("Input y contains NaN or infinity.")
    if est.loss == "poisson" and minimum < 0:
        raise ValueError(
            "Some value(s) of y are negative which is not allowed for loss='poisson'."
        )
    Y = (y[:, None] if y.ndim == 1 else y).astype(dtype)
    return Y, None, est._loss_name(None)


def _check_sample_weight(sample_weight, rows, dtype):
    """Weights as a 1-D Dask array, checked finite and non-negative remotely."""
    dask, da = _require_dask()
    sw = _as_dask_array(sample_weight, "sample_weight", rows=rows)
    if sw.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got {sw.ndim} dimensions.")
    sw = sw.astype(dtype)
    finite, minimum = dask.compute(da.isfinite(sw).all(), sw.min())
    if not finite:
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if minimum < 0:
        raise ValueError("Negative values in data passed to `sample_weight`.")
    return sw


# -- the objective ------------------------------------------------------------------
def _block_cost_grad(spec, X, Y, sw, theta):
    """Loss sum and unnormalized gradient ``(sum s_i loss_i, Delta)`` of a block.

    A fresh :class:`Network` per task: several tasks may share a worker's
    threads, and a network's work buffers must not be shared.
    """
    net = Network(*spec)
    D = np.zeros(net.n_params, net.dtype)
    if X.shape[0] == 0:
        return 0.0, D
    with np.errstate(over="ignore", invalid="ignore"):
        J = net._accumulate(net._block_params(theta), X, Y, sw, D)
    return J, D


def _block_hessp(spec, X, Y, sw, theta, v, curvature):
    """The unnormalized ``H v`` (or ``G v``) of a block."""
    return hessp_sum(Network(*spec), theta, v, X, Y, sw, curvature)


def _add_cost_grads(*parts):
    J = sum(p[0] for p in parts)
    D = parts[0][1].copy()
    for p in parts[1:]:
        D += p[1]
    return J, D


def _add_arrays(*parts):
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _tree_sum(dask, parts, add, prefix):
    """Add delayed partial results on the workers, ``_SPLIT_EVERY`` at a time."""
    level = 0
    while len(parts) > 1:
        parts = [
            dask.delayed(add)(
                *parts[i : i + _SPLIT_EVERY],
                dask_key_name=f"{prefix}-{level}-{i}",
            )
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
        level += 1
    return parts[0]


def _groups_by_worker(X):
    """Row-block indices grouped by the worker that holds each block.

    Adding a worker's partial results there first sends one parameter-sized
    vector per worker over the network, whatever its number of blocks.  One
    group when no distributed Client holds the data.  Only a matter of
    speed: the sum is the same whichever way the blocks are grouped.
    """
    keys = [k[0] if isinstance(k, list) else k for k in X.__dask_keys__()]
    try:
        import distributed

        who_has = distributed.default_client().who_has(X)
    except (ImportError, ValueError):
        who_has = {}
    groups = {}
    for i, key in enumerate(keys):
        workers = sorted(who_has.get(key, ()))
        groups.setdefault(workers[0] if workers else None, []).append(i)
    return list(groups.values())


class DaskObjective:
    """The regularized cost of data persisted on a Dask cluster.

    Offers what the solvers use of the in-memory objective: ``net``,
    ``cost_grad``, ``hessp``, ``n_samples``, ``weight_sum`` and ``alpha``.

    Parameters
    ----------
    net : Network
        The network (structure only; the blocks build their own copies).
    X, Y : dask.array.Array
        Persisted inputs and encoded targets with the same row chunks, a
        single column chunk, in the network's dtype.
    sample_weight : dask.array.Array or None
        Persisted weights (times the class weights), same row chunks.
    weight_sum : float
        ``S``, the sum of the weights (the number of rows without them).
    alpha : float
        The L2 penalty.
    """

    def __init__(self, net, X, Y, sample_weight, weight_sum, alpha):
        self.net, self.X, self.Y, self.sample_weight = net, X, Y, sample_weight
        self.alpha = alpha
        self.n_samples = int(X.shape[0])
        self.weight_sum = float(weight_sum)
        self._spec = (net.layer_sizes, net.activation, net.loss, net.dtype)
        self._spec += (net.chunk_size,)
        self._blocks = list(
            zip(
                X.to_delayed().ravel(),
                Y.to_delayed().ravel(),
                (
                    sample_weight.to_delayed().ravel()
                    if sample_weight is not None
                    else itertools.repeat(None)
                ),
                strict=False,
            )
        )
        self._groups = _groups_by_worker(X)
        self.n_evaluations = 0

    def _sum_blocks(self, func, add, *args):
        """``add`` over ``func(spec, X_b, Y_b, s_b, *args)`` of every block.

        The small arguments enter the graph once, as one task each, so every
        worker fetches them once per evaluation whatever its number of blocks.
        """
        dask, _ = _require_dask()
        prefix = f"skbackprop-{uuid.uuid4().hex}"
        args = [
            dask.delayed(a, name=f"{prefix}-arg-{i}")
            if isinstance(a, np.ndarray)
            else a
            for i, a in enumerate(args)
        ]
        parts = [
            dask.delayed(func)(
                self._spec, X, Y, sw, *args, dask_key_name=f"{prefix}-block-{i}"
            )
            for i, (X, Y, sw) in enumerate(self._blocks)
        ]
        per_worker = [
            _tree_sum(dask, [parts[i] for i in group], add, f"{prefix}-sum-{j}")
            for j, group in enumerate(self._groups)
        ]
        self.n_evaluations += 1
        return dask.compute(_tree_sum(dask, per_worker, add, f"{prefix}-total"))[0]

    def cost_grad(self, theta):
        """``(J, D)`` over all blocks; equal to :meth:`Network.cost_grad`."""
        net = self.net
        theta = net._as_theta(theta)
        J, D = self._sum_blocks(_block_cost_grad, _add_cost_grads, theta)
        S = self.weight_sum
        # The penalty and normalization of Network.cost_grad, line for line.
        with np.errstate(over="ignore", invalid="ignore"):
            W = theta[: net.n_coefs]
            if self.alpha:
                J += 0.5 * self.alpha * float(np.dot(W, W))
                D[: net.n_coefs] += self.alpha * W
            D *= net.dtype.type(1.0 / S)
        return J / S, D

    def threads(self, batch_size=None):
        """The cluster's workers hold their own threads: nothing to hold here."""
        return contextlib.nullcontext()

    def hessp(self, theta, v, curvature):
        """``H v`` (or ``G v``) over all blocks; equal to ``network_hessp``."""
        net = self.net
        theta, v = net._as_theta(theta), net._as_theta(v)
        Hv = self._sum_blocks(_block_hessp, _add_arrays, theta, v, curvature)
        Hv[: net.n_coefs] += self.alpha * v[: net.n_coefs]
        Hv /= self.weight_sum
        return Hv


def dask_objective(est, X, y, sample_weight, hidden, incremental, first_pass):
    """Validate Dask data, persist it on the workers, and bind it to a network.

    Called by ``BaseBackprop._fit_unsafe`` for Dask input.  Validation runs
    as reductions on the cluster; only their results (and the unique labels
    of a classifier) reach the client.
    """
    dask, da = _require_dask()
    X = _check_X(est, X, reset=first_pass)
    _unsupported(est, X.shape[0])
    rows = X.chunks[0]
    dtype = X.dtype
    y = _as_dask_array(y, "y", rows=rows)
    if sample_weight is not None:
        sample_weight = _as_dask_array(sample_weight, "sample_weight", rows=rows)
    # Persist the raw data once; every check below reads the workers' copy.
    X, y, sample_weight = dask.persist(X, y, sample_weight)
    if not da.isfinite(X).all().compute():
        raise ValueError("Input X contains NaN or infinity.")
    if is_classifier(est):
        Y, row_weights, loss = _classifier_targets(est, y, incremental, dtype)
    else:
        Y, row_weights, loss = _regressor_targets(est, y, dtype)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, rows, dtype)
    if row_weights is not None:
        sample_weight = (
            row_weights if sample_weight is None else sample_weight * row_weights
        )
    Y, sample_weight = dask.persist(Y, sample_weight)
    if sample_weight is None:
        weight_sum = float(X.shape[0])
    else:
        weight_sum = float(sample_weight.sum().compute())
        if not weight_sum > 0:
            raise ValueError(
                "The sample weights (times the class weights) sum to zero: "
                "at least one sample must have a positive weight."
            )
    sizes = (X.shape[1], *hidden, Y.shape[1])
    net = Network(sizes, est.activation, loss, dtype=dtype, chunk_size=est.chunk_size)
    return DaskObjective(net, X, Y, sample_weight, weight_sum, est.alpha)


# -- prediction and scoring ---------------------------------------------------------
def _forward_block(X, params, activation, out_activation, chunk_size):
    if X.shape[0] and not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity.")
    coefs, intercepts = params
    return forward_layers(coefs, intercepts, X, activation, out_activation, chunk_size)


def dask_forward(est, X, out_activation, checked=False):
    """``A(L)`` of a fitted estimator for a Dask ``X``: lazy, block by block.

    ``checked``: ``X`` already went through ``_check_X``.
    """
    dask, _ = _require_dask()
    check_is_fitted(est)
    if not checked:
        X = _check_X(est, X, reset=False, lengths=False)
    params = dask.delayed(
        (est.coefs_, est.intercepts_), name=f"skbackprop-params-{uuid.uuid4().hex}"
    )
    dtype = np.result_type(X.dtype, est.coefs_[0].dtype)
    return X.map_blocks(
        _forward_block,
        params,
        est.activation,
        out_activation,
        est.chunk_size,
        dtype=dtype,
        chunks=(X.chunks[0], (est.n_outputs_,)),
    )


def _labels_block(A, binarizer, like):
    if A.shape[0] == 0:
        return np.empty((0,) + like.shape[1:], like.dtype)
    return binarizer.inverse_transform(A)


def dask_predict(est, X, checked=False):
    """Lazy predictions: class labels (classifier) or values (regressor)."""
    check_is_fitted(est)
    A = dask_forward(est, X, est.out_activation_, checked)
    if not is_classifier(est):
        return A[:, 0] if A.shape[1] == 1 else A
    binarizer = est._label_binarizer
    like = binarizer.inverse_transform(np.zeros((1, A.shape[1]), A.dtype))
    return A.map_blocks(
        _labels_block,
        binarizer,
        like,
        dtype=like.dtype,
        chunks=(A.chunks[0],) + ((like.shape[1],) if like.ndim == 2 else ()),
        drop_axis=None if like.ndim == 2 else 1,
        meta=np.empty((0,) * like.ndim, like.dtype),
    )


def _proba_block(A, out_activation, binary, log):
    from skbackprop._classes import _probabilities

    P = _probabilities(A.copy(), out_activation, binary)
    if log:
        with np.errstate(divide="ignore"):
            return np.log(P)
    return P


def dask_predict_proba(est, X, log=False):
    """Lazy class probabilities (or their logarithms)."""
    check_is_fitted(est)
    A = dask_forward(est, X, est.out_activation_)
    binary = est._label_binarizer.y_type_ == "binary"
    n_cols = 2 if binary and est.out_activation_ == "logistic" else A.shape[1]
    return A.map_blocks(
        _proba_block,
        est.out_activation_,
        binary,
        log,
        dtype=A.dtype,
        chunks=(A.chunks[0], (n_cols,)),
    )


def dask_score(est, X, y, sample_weight=None):
    """Accuracy or R^2 computed on the cluster, returned as a float.

    As dask-ml's scorers do: the predictions stay on the workers and only
    a few sums reach the client.
    """
    dask, da = _require_dask()
    check_is_fitted(est)
    y_pred = dask_predict(est, _check_X(est, X, reset=False), checked=True)
    rows = y_pred.chunks[0]
    y = _as_dask_array(y, "y", rows=rows)
    if y.ndim == 2 and y_pred.ndim == 1 and y.shape[1] == 1:
        y = y[:, 0]
    w = (
        da.ones(y.shape[0], chunks=(rows,))
        if sample_weight is None
        else _as_dask_array(sample_weight, "sample_weight", rows=rows)
    )
    if is_classifier(est):
        correct = y_pred == y
        if correct.ndim == 2:  # multilabel: subset accuracy
            correct = correct.all(axis=1)
        num, den = dask.compute((w * correct).sum(), w.sum())
        return float(num / den)
    y2 = y.astype(np.float64).reshape(y.shape[0], -1)
    p2 = y_pred.astype(np.float64).reshape(y.shape[0], -1)
    w2 = w.astype(np.float64)[:, None]
    mean = (w2 * y2).sum(axis=0) / w2.sum()
    num, den = dask.compute(
        (w2 * (y2 - p2) ** 2).sum(axis=0), (w2 * (y2 - mean) ** 2).sum(axis=0)
    )
    # r2_score's uniform average, with its force_finite conventions.
    scores = np.ones(num.shape[0])
    valid = (den != 0) & (num != 0)
    scores[valid] = 1 - num[valid] / den[valid]
    scores[(num != 0) & (den == 0)] = 0.0
    return float(scores.mean())
