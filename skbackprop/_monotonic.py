"""The ``monotonic_cst`` parameter: checked, then turned into parameter bounds.

The construction (non-negative weights after the first layer, sign
constraints on the constrained features' first-layer weights, monotone
activations) is in :mod:`skbackprop._engine.monotone`; the training layer
keeps the solver inside the bounds (:mod:`skbackprop._training.bounds`).
"""

from sklearn.utils.validation import _check_monotonic_cst

from skbackprop._engine.activations import HIDDEN_ACTIVATIONS
from skbackprop._engine.monotone import monotone_bounds
from skbackprop._training import solvers


def monotonic_bounds(est, net, solver):
    """The bounds enforcing ``est.monotonic_cst`` on ``net``, or None.

    ``solver`` is the training settings' :class:`Solver`.  Raises a ``ValueError``
    for constraints that cannot be honoured: a softmax output (multiclass),
    an activation that is not monotone, or a solver that ignores bounds.
    Called after the data are validated (``n_features_in_`` is set).
    """
    if est.monotonic_cst is None:
        return None
    if isinstance(est.monotonic_cst, dict) and not hasattr(est, "feature_names_in_"):
        raise ValueError(
            f"monotonic_cst is a dict of feature names, but {type(est).__name__} "
            "was fitted on data without feature names. Fit it on a pandas "
            "DataFrame; in a Pipeline, make the steps before it output one "
            '(pipeline.set_output(transform="pandas")). Or pass monotonic_cst as '
            "an array of -1, 0 and 1, one per feature."
        )
    cst = _check_monotonic_cst(est, est.monotonic_cst)
    if not cst.any():
        return None
    if net.out_activation == "softmax":
        raise ValueError(
            "monotonic_cst is not supported for multiclass classification: "
            "a softmax probability is not monotone in the network's outputs. "
            "Use it for binary (or multilabel) classification and regression."
        )
    bad = sorted({g for g in net.activations if not HIDDEN_ACTIVATIONS[g].monotone})
    if bad:
        raise ValueError(
            f"monotonic_cst needs nondecreasing hidden activations; {bad} "
            "are not monotone. Use e.g. 'tanh', 'logistic', 'relu', "
            "'leaky_relu', 'softplus' or 'elu'."
        )
    if not solver.bounds:
        raise ValueError(
            f"monotonic_cst needs a solver that honours bounds on the weights: "
            f"one of {solvers.names(lambda s: s.bounds)}, got "
            f"solver={solver.describe()!r}."
        )
    return monotone_bounds(net.layer_sizes, cst)
