"""The targets: their checks, their encoding, and predictions decoded.

Both backends hand the classifier's ``_fit_targets`` a summary of the
targets; the checks run there, before anything is encoded or trained.  The
encodings and the transforms of the network's outputs into predictions are
module-level functions: Dask applies them to each block.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_regressor


def check_class_weight(class_weight):
    """Class weights are sample weights: finite and non-negative (a negative
    one would make the loss unbounded below)."""
    if class_weight is None or isinstance(class_weight, str):
        return
    for weights in class_weight if isinstance(class_weight, list) else [class_weight]:
        if not isinstance(weights, dict):
            raise ValueError(
                f"class_weight must be a dict, a list of dicts or 'balanced', "
                f"got a list holding {type(weights).__name__}."
            )
        for label, w in weights.items():
            if not (isinstance(w, Real) and np.isfinite(w) and w >= 0):
                raise ValueError(
                    f"class_weight[{label!r}] is {w!r}: class weights must be "
                    "finite and non-negative, like sample weights."
                )


def check_same_kind(fitted_type, target_type):
    """A continued fit (``warm_start``, ``partial_fit``) keeps the kind of
    targets: multilabel indicators, or one label per row."""
    multilabel = "multilabel-indicator"
    if (target_type == multilabel) != (fitted_type == multilabel):
        raise ValueError(
            f"y holds {target_type!r} targets but the model was fitted on "
            f"{fitted_type!r} ones; warm_start and partial_fit continue with the "
            "same kind of targets. Set warm_start=False, or refit, to change it."
        )


def check_sparse_targets(est, y):
    """A sparse ``y`` is a classifier's multilabel indicator matrix, as
    :class:`~sklearn.neural_network.MLPClassifier` takes; nothing else."""
    if not sp.issparse(y):
        return
    if is_regressor(est):
        # scikit-learn's regression metrics refuse a sparse y too.
        raise ValueError(
            f"{type(est).__name__} does not take a sparse y: its targets are "
            "dense values. Pass y.toarray()."
        )
    values = np.unique(y.data)
    if not np.isin(values, (0, 1)).all():
        raise ValueError(
            "A sparse y must be a multilabel indicator matrix of 0s and 1s, got "
            f"values {values[:5].tolist()}; pass y.toarray() for other targets."
        )


def dense(y):
    """``y`` as a NumPy array when sparse (the network's targets are dense)."""
    return y.toarray() if sp.issparse(y) else y


def encode_labels(y, classes, multilabel, dtype):
    """Labels in the output encoding, as :class:`~sklearn.preprocessing.LabelBinarizer`:
    one 0/1 column for two classes, one-hot rows for more, indicators as given."""
    if multilabel:
        return np.asarray(dense(y), dtype=dtype)
    if len(classes) == 2:
        return (np.asarray(y) == classes[1]).astype(dtype)[:, None]
    return (np.asarray(y)[:, None] == classes[None, :]).astype(dtype)


def encode_values(y, dtype):
    Y = np.asarray(y, dtype=dtype)
    return Y[:, None] if Y.ndim == 1 else Y


def labels(A, binarizer):
    return binarizer.inverse_transform(A)


def values(A):
    return A.ravel() if A.shape[1] == 1 else A


def probabilities(A, out_activation, binary):
    """Class probabilities from the output activations ``A(L)`` (clipped in place)."""
    if out_activation == "logistic":
        # Each probability is mathematically inside (0, 1); keep it inside
        # the representable open interval rather than rounding to 0 or 1.
        np.clip(A, np.finfo(A.dtype).tiny, np.nextafter(A.dtype.type(1), 0), out=A)
        if binary:
            return np.hstack([1 - A, A])
    return A


def log_probabilities(A, out_activation, binary):
    with np.errstate(divide="ignore"):
        return np.log(probabilities(A, out_activation, binary))
