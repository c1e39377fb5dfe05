"""Checks of the classifier's targets shared by the in-memory and Dask backends.

Both backends hand the classifier's ``_fit_targets`` a summary of the
targets; these checks run there, before anything is encoded or trained.
"""

from numbers import Real

import numpy as np


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
