"""The one seam between the estimators and where the data live.

:func:`backend` tells in-memory input from Dask input; each backend builds
the training :class:`~skbackprop._training.objective.Objective` of a fit and
the predictor of a fitted estimator.  No estimator method looks at the type
of its input otherwise.  The Dask backend (:mod:`skbackprop._dask_data`) is
imported only when Dask input arrives.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_sample_weight, validate_data

from skbackprop._engine.losses import target_scale
from skbackprop._training.objective import (
    InMemoryObjective,
    scaled_alpha,
    weight_scale,
)
from skbackprop._validation import score_function, validation_set


def backend(X):
    """The backend for input ``X``: Dask collections, or arrays in memory."""
    if hasattr(X, "__dask_graph__"):  # a Dask collection (without importing Dask)
        from skbackprop._dask_data import DASK

        return DASK
    return IN_MEMORY


class InMemory:
    """NumPy arrays, sparse matrices, pandas and anything array-like."""

    def objective(self, est, X, y, sample_weight, hidden, incremental, first_pass):
        """Validate the data, encode the targets, bind them to a network.

        Returns ``(objective, y)``: the objective and the validated targets
        (for :meth:`validation`).
        """
        X, y = est._validate_input(X, y, incremental, reset=first_pass)
        if sp.issparse(X):
            X = X.tocsr()
        sample_weight, alpha, scale = _check_weights(est, sample_weight, X, y)
        encode, args = est._target_encoding()
        Y = encode(y, *args, dtype=X.dtype)
        targets = None
        if (
            isinstance(est._alpha_in_use(), str)
            and est._loss().likelihood == "gaussian"
        ):
            Y, targets = standardized(Y, sample_weight)
        net = est._network(
            (X.shape[1], *hidden, Y.shape[1]),
            X.dtype,
            target_scale=lambda: target_scale(Y, sample_weight),
            keep_loss=incremental and not first_pass,
        )
        objective = InMemoryObjective(net, X, Y, sample_weight, alpha, scale)
        objective.targets = targets
        return objective, y

    def validation(self, est, objective, y, rng, chosen=None):
        """The training objective and validation score of early stopping.

        ``chosen``, ``(X_val, y_val, sample_weight_val)`` given to ``fit``,
        scores those rows and trains on all of ``objective``'s; None holds
        out ``validation_fraction`` of the rows instead.  Returns the
        training objective and the score of parameters on the validation
        rows, ``score(theta)`` (see :func:`skbackprop._validation.score_function`).
        """
        o = objective
        if chosen is not None:
            rows = validation_set(est, o.net, y, *chosen, check_weights=_check_weights)
            return o, score_function(est, o.net, *rows)
        arrays = [o.X, o.Y, y]
        if o.sample_weight is not None:
            arrays.append(o.sample_weight)
        try:
            split = train_test_split(
                *arrays,
                random_state=rng,
                test_size=est.validation_fraction,
                stratify=est._stratify(y),
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping cannot hold out validation_fraction="
                f"{est.validation_fraction} of {o.n_samples} samples ({exc}). "
                "Use more data or a larger validation_fraction."
            ) from exc
        X_train, X_val, Y_train, Y_val, _, y_val = split[:6]
        sw_train, sw_val = split[6:8] if o.sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                f"validation_fraction={est.validation_fraction} leaves "
                f"{X_val.shape[0]} sample(s) for validation; use more data or a "
                "larger fraction."
            )
        for part, sw in (("held-out validation", sw_val), ("training", sw_train)):
            if sw is not None and not np.sum(sw) > 0:
                raise ValueError(
                    f"early_stopping: the {part} rows (validation_fraction="
                    f"{est.validation_fraction}) have zero total sample weight "
                    "(times the class weights), so they cannot be scored or "
                    "trained on. Use a larger validation_fraction, other "
                    "weights, or early_stopping=False."
                )
        train = InMemoryObjective(o.net, X_train, Y_train, sw_train, o.alpha, o.scale)
        return train, score_function(est, o.net, X_val, Y_val, y_val, sw_val)

    def predictor(self, est, X):
        return _InMemoryPredictor(est, X)

    def rows(self, objective):
        """``(X, sample_weight)`` of the training rows (the fitted posterior)."""
        return objective.X, objective.sample_weight


class _InMemoryPredictor:
    """The outputs of a fitted estimator on validated in-memory ``X``."""

    def __init__(self, est, X):
        X = validate_data(
            est,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        self.X = X.tocsr() if sp.issparse(X) else X
        self.est = est

    def apply(self, transform, args=()):
        """``transform(A, *args)`` of the network's outputs ``A = A(L)``."""
        est = self.est
        dtype = np.result_type(self.X.dtype, est.coefs_[0].dtype)
        net = est._prediction_network(dtype)
        A = net.forward((est.coefs_, est.intercepts_), self.X)
        return transform(A, *args)

    def rows(self):
        """The validated rows (error bars are computed on them)."""
        return self.X

    def score(self, y, sample_weight):
        transform, args = self.est._output_transform("predict")
        y_pred = self.apply(transform, args)
        return float(self.est._score_predictions(y, y_pred, sample_weight))


def standardized(Y, sample_weight):
    """``Y`` centred and scaled, and ``(mean, scale)``: the evidence's
    Gaussian noise model then sees targets in units of their spread.

    Each output is centred on its (weighted) mean; one scale, the root mean
    of the outputs' variances, serves all of them (they share the noise
    precision ``beta``).  Constant targets keep the scale 1.
    """
    Y64 = np.asarray(Y, dtype=np.float64)
    mean = np.average(Y64, axis=0, weights=sample_weight)
    variance = np.average((Y64 - mean) ** 2, axis=0, weights=sample_weight)
    scale = float(np.sqrt(np.mean(variance)))
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    return ((Y64 - mean) / scale).astype(Y.dtype), (mean, scale)


def _check_weights(est, sample_weight, X, y):
    """Sample weights times the class weights, checked, and the penalty.

    Returns ``(weights, alpha, scale)``: the weights (None for none) in
    ``X``'s dtype and a float ``alpha``, both divided by ``scale``, a power
    of two near the largest sample and class weights (see
    :func:`~skbackprop._training.objective.weight_scale`): the same cost,
    whatever the weights' scale.  ``alpha="evidence"`` and ``"ard"`` stay
    names: the evidence reads the weights as counts, their sum ``scale *
    weight_sum``, and divides its own ``alpha`` by ``scale``.
    """
    scale = 1.0
    if sample_weight is not None:
        # Checked and scaled in float64: 1e308 is a valid weight, not an
        # overflow in float32.
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        c = weight_scale(sample_weight)
        sample_weight = (sample_weight / c).astype(X.dtype, copy=False)
        scale *= c
    target_weights = est._target_weights(y)
    if target_weights is not None:
        target_weights = np.asarray(target_weights, dtype=np.float64)
        c = weight_scale(target_weights)
        target_weights = (target_weights / c).astype(X.dtype, copy=False)
        scale *= c
        sample_weight = (
            target_weights if sample_weight is None else sample_weight * target_weights
        )
    if sample_weight is not None and not np.sum(sample_weight) > 0:
        raise ValueError(
            "The sample weights (times the class weights) sum to zero: "
            "at least one sample must have a positive weight."
        )
    alpha = est._alpha_in_use()
    if not isinstance(alpha, str):
        alpha = scaled_alpha(alpha, scale, X.dtype)
    return sample_weight, alpha, scale


IN_MEMORY = InMemory()
