"""Exact Hessian- and Gauss-Newton-vector products by the R-operator.

Pearlmutter's R-operator, ``R{f} = d/dr f(theta + r v) at r = 0``, applied to
every line of the forward cascade and of the backward two-step rule gives
``H v`` at about the cost of one more gradient.  With ``V(l)``, ``Vb(l)`` the
parts of ``v`` laid out as the weights::

    R{Z(l)} = R{A(l-1)} W(l) + A(l-1) V(l) + Vb(l),  R{A(l)} = g'(Z(l)) R{Z(l)}
    R{d(L)} = R{A(L)}                  (matched output/loss pairs)
    R{d(l)} = (R{d(l+1)} W(l+1)' + d(l+1) V(l+1)') g'(Z(l))
              + (d(l+1) W(l+1)') g''(Z(l)) R{Z(l)}
    (H v)(l) = (R{A(l-1)}' s d(l) + A(l-1)' s R{d(l)} + alpha V(l)) / S

The Gauss-Newton product ``G v`` (Schraudolph 2002) keeps only the terms that
pass through the output's curvature: it drops the two terms with ``d(l+1)``
and ``R{A(l-1)}' d(l)``, which makes ``G`` positive semi-definite.
"""

import numpy as np

from skbackprop._engine import threads
from skbackprop._engine.activations import OUTPUT_ACTIVATIONS
from skbackprop._engine.network import weight_sum

CURVATURES = ("exact", "gauss-newton")

# Unlike cost_grad, the R-operator allocates its temporaries block by block.
# Blocks of about 2**14 elements per layer keep them small enough for malloc
# to recycle; blocks of a megabyte or more are fresh pages every call, which
# made H v cost 3-6 gradients instead of 1.5-2 on mid-size problems.
_BLOCK_ELEMENTS = 2**14


def network_hessp(
    net, theta, v, X, Y, sample_weight=None, alpha=0.0, curvature="exact"
):
    """``H v`` (or ``G v``) for a :class:`~skbackprop._engine.network.Network`.

    ``X`` must be dense or CSR and ``Y`` 2-D, in the network's dtype.
    """
    if curvature not in CURVATURES:
        raise ValueError(f"curvature must be one of {CURVATURES}, got {curvature!r}.")
    theta = net.as_theta(theta)
    v = net.as_theta(v)
    if v.shape != theta.shape:
        raise ValueError(f"v must have shape {theta.shape}, got {v.shape}.")
    m = X.shape[0]
    S = weight_sum(m, sample_weight, "curvature")

    def part(k, start, stop):
        sw = None if sample_weight is None else sample_weight[start:stop]
        return hessp_sum(net, theta, v, X[start:stop], Y[start:stop], sw, curvature)

    # About eight products per layer against the gradient's three: split the
    # rows between workers as cost_grad does, and add the parts in order.
    # Far from a minimum the products can overflow, as the cost can (see
    # Network.cost_grad): the solvers see the inf or nan and stop.
    with np.errstate(over="ignore", invalid="ignore"):
        parts = threads.map_rows(part, m, 8 * net.n_coefs)
        Hv = parts[0]
        for P in parts[1:]:
            Hv += P
        return regularize_product(net, Hv, v, alpha, S)


def regularize_product(net, Hv, v, alpha, S):
    """Add the penalty's curvature ``alpha V(l)`` and divide by ``S``, in place."""
    Hv[: net.n_coefs] += alpha * v[: net.n_coefs]
    Hv /= S
    return Hv


def hessp_sum(net, theta, v, X, Y, sample_weight, curvature):
    """The data part of ``S H v`` (or ``S G v``): a sum over the rows of ``X``.

    Neither the penalty ``alpha V(l)`` nor the division by ``S``: the part of
    :func:`network_hessp` that splits exactly over row blocks, so that partial
    sums over the blocks of a data set add up to it.  ``theta`` and ``v`` are
    in the network's dtype; zero rows give zeros.
    """
    coefs, intercepts = net.unpack(theta)
    V_coefs, V_intercepts = net.unpack(v)
    m = X.shape[0]
    Hv = np.zeros(net.n_params, net.dtype)
    H_coefs, H_intercepts = net.unpack(Hv)
    exact = curvature == "exact"
    rows = min(net.chunk_size, max(64, _BLOCK_ELEMENTS // max(net.layer_sizes[1:])))
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        sw = None if sample_weight is None else sample_weight[start:stop]
        _block(
            net,
            (coefs, intercepts),
            (V_coefs, V_intercepts),
            X[start:stop],
            Y[start:stop],
            sw,
            (H_coefs, H_intercepts),
            exact,
        )
    return Hv


def _block(net, params, V, X, Y, sw, H, exact):
    coefs, intercepts = params
    V_coefs, V_intercepts = V
    H_coefs, H_intercepts = H
    L = len(coefs)
    loss = net.loss
    # The forward cascade, keeping every layer's activations (and the Z(l)
    # that g' and g'' need).
    rows = X.shape[0]
    acts = [np.empty((rows, n), net.dtype) for n in net.layer_sizes[1:]]
    zs = net.z_buffers(rows)
    Z = net.cascade(coefs, intercepts, X, acts, zs)
    A_out = OUTPUT_ACTIVATIONS[loss.out_activation](Z)
    acts = [X] + acts[:-1]
    # Its directional derivative R{.} along v.
    R_acts, g1, g2, R_Z = [None], [], [], []
    for l in range(L):
        RZ = np.asarray(acts[l] @ V_coefs[l], dtype=net.dtype) + V_intercepts[l]
        if l > 0:
            RZ += R_acts[l] @ coefs[l]
        if l < L - 1:
            d1, d2 = net.g[l].second(acts[l + 1], zs[l])
            R_acts.append(d1 * RZ)
            g1.append(d1)
            g2.append(d2)
            R_Z.append(RZ)
        else:
            R_delta = loss.hessp(A_out, Y, RZ)
            delta = loss.signal(A_out, Y)
    if sw is not None:
        R_delta *= sw[:, None]
        delta *= sw[:, None]
    # Backward: the two-step rule and its directional derivative.
    for l in range(L - 1, -1, -1):
        A_prev = acts[l]
        H_coefs[l] += np.asarray(A_prev.T @ R_delta)
        if exact and l > 0:
            H_coefs[l] += R_acts[l].T @ delta
        H_intercepts[l] += R_delta.sum(axis=0)
        if l > 0:
            back = delta @ coefs[l].T
            R_back = R_delta @ coefs[l].T
            if exact:
                R_back += delta @ V_coefs[l].T
                R_delta = R_back * g1[l - 1] + back * g2[l - 1] * R_Z[l - 1]
            else:
                R_delta = R_back * g1[l - 1]
            delta = back * g1[l - 1]
