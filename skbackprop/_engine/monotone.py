"""Monotonic constraints as bounds on the flat parameters.

The output ``Z(L)`` of a network is nondecreasing in input ``x_j`` when

* every first-layer weight of ``x_j`` is non-negative, ``W(1)[j, :] >= 0``;
* every later weight is non-negative, ``W(l) >= 0`` for ``l >= 2``;
* every hidden activation ``g`` is nondecreasing,

and nonincreasing when instead ``W(1)[j, :] <= 0``.  By induction over the
layers: each unit of layer 1, ``Z(1)_k = sum_i x_i W(1)[i, k] + b(1)_k``,
moves with ``x_j`` in the direction of the constraint (or not at all), so
does ``A(1)_k = g(Z(1)_k)``, and a non-negative combination of such units,
plus a bias, moves the same way.  Constraints of opposite signs on two
features coexist: each feature's direction is fixed by its own first-layer
row.  Unconstrained features keep free first-layer rows; biases are free.
A nondecreasing output activation (identity, logistic, exp) keeps the
direction, so the predicted value or probability of a binary classifier is
monotone too; a softmax is not monotone in any single logit's direction.

This is the classic construction of monotone networks by non-negative
weights (Archer & Wang 1993), the baseline that Runje & Shankaranarayana
(ICML 2023) improve upon.  With a convex activation such as ReLU it can only
represent convex functions of the inputs: ``g`` of an affine function is
convex, and a convex nondecreasing ``g`` of a non-negative combination of
convex functions is convex again.  The same holds for leaky ReLU, ELU and
softplus.  The bounded activations (tanh, logistic) have no such limit.
"""

import numpy as np

from skbackprop._engine.params import Layout


def monotone_bounds(layer_sizes, monotonic_cst):
    """``(lower, upper)`` bounds on ``theta`` enforcing ``monotonic_cst``.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    monotonic_cst : array-like of shape (n_features,)
        ``1`` (nondecreasing), ``-1`` (nonincreasing) or ``0`` (free) per
        input feature.

    Returns
    -------
    bounds : tuple of two ndarray of shape (n_params,), or None
        float64 bounds, ``-inf``/``inf`` where free; None when no feature
        is constrained.
    """
    layout = Layout(layer_sizes)
    cst = np.asarray(monotonic_cst)
    if cst.shape != (layout.layer_sizes[0],):
        raise ValueError(
            f"monotonic_cst must have one entry per input feature "
            f"({layout.layer_sizes[0]}), got shape {cst.shape}."
        )
    if not cst.any():
        return None
    lower = np.full(layout.n_params, -np.inf)
    upper = np.full(layout.n_params, np.inf)
    (W_lower, *later_lower), _ = layout.unpack(lower)
    (W_upper, *_), _ = layout.unpack(upper)
    W_lower[cst > 0] = 0.0
    W_upper[cst < 0] = 0.0
    for W in later_lower:
        W[...] = 0.0
    return lower, upper


def reflect(theta, bounds):
    """``theta`` made feasible by flipping the signs of the wrong-signed
    entries, in place: initial weights keep their Glorot magnitudes instead
    of being clipped to zero."""
    lower, upper = bounds
    flip = ((lower == 0) & (theta < 0)) | ((upper == 0) & (theta > 0))
    np.negative(theta, out=theta, where=flip)
    return theta
