"""The objective of data persisted on a Dask cluster.

The batch gradient is a sum over examples, so it splits exactly over the
row blocks of a Dask array.  Each block runs the engine's own accumulation
(:meth:`Network.accumulate`, the code each in-memory row worker runs) for
its loss sum and unnormalized ``Delta(l)``; a tree of additions on the
workers brings them to one parameter-sized vector, and the client adds the
penalty and divides by ``S`` with :meth:`Network.regularize`, as the
in-memory :meth:`Network.cost_grad` does.  ``H v`` products for the
Newton-type solvers, and Levenberg-Marquardt's dense Gauss-Newton matrix
and geodesic-acceleration product, are summed the same way.

Per evaluation the graph carries the parameter vector (one task, fetched
once by each worker that needs it) and brings back one ``(J, D)`` pair.
Dask is imported inside the functions: this module loads without it.
"""

import contextlib
import itertools
import threading
import uuid

import numpy as np

from skbackprop._engine.gauss_newton import (
    gauss_newton_sum,
    geodesic_sum,
    regularize_matrix,
)
from skbackprop._engine.network import Network
from skbackprop._engine.r_operator import hessp_sum, regularize_product

# Fan-in of the tree that adds the blocks' partial sums on the workers.
_SPLIT_EVERY = 8

# One network per (structure, worker thread): its work buffers are reused by
# every block the thread evaluates, as an in-memory fit reuses them.
_NETWORKS = threading.local()


def _network(spec):
    cache = _NETWORKS.__dict__.setdefault("by_spec", {})
    net = cache.get(spec)
    if net is None:
        net = cache[spec] = Network(*spec)
    return net


def block_cost_grad(spec, X, Y, sw, theta):
    """``(sum_i s_i loss_i, Delta)`` of one block: :meth:`Network.accumulate`."""
    net = _network(spec)
    D = np.empty(net.n_params, net.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        J = net.accumulate(net.params(theta), X, Y, sw, D)
    return J, D


def block_hessp(spec, X, Y, sw, theta, v, curvature):
    """The unnormalized ``H v`` (or ``G v``) of one block."""
    with np.errstate(over="ignore", invalid="ignore"):
        return hessp_sum(_network(spec), theta, v, X, Y, sw, curvature)


def block_gauss_newton(spec, X, Y, sw, theta):
    """The unnormalized ``(J, D, G)`` of one block (Levenberg-Marquardt)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return gauss_newton_sum(_network(spec), theta, X, Y, sw)


def block_geodesic(spec, X, Y, sw, theta, v):
    """The unnormalized ``sum_i s_i J_i' H_i r_vv,i`` of one block."""
    with np.errstate(over="ignore", invalid="ignore"):
        return geodesic_sum(_network(spec), theta, v, X, Y, sw)


def block_cost(spec, X, Y, sw, theta):
    """``sum_i s_i loss_i`` of one block, from a forward pass."""
    net = _network(spec)
    with np.errstate(over="ignore", invalid="ignore"):
        row_loss = net.loss.row_loss(net.forward(theta, X, out_activation=False), Y)
        return float(row_loss.sum() if sw is None else np.dot(sw, row_loss))


def _add_gauss_newtons(*parts):
    J = sum(p[0] for p in parts)
    D, G = parts[0][1].copy(), parts[0][2].copy()
    for p in parts[1:]:
        D += p[1]
        G += p[2]
    return J, D, G


def _add_floats(*parts):
    return sum(parts)


def add_cost_grads(*parts):
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

    Implements the :class:`~skbackprop._training.objective.Objective`
    protocol for the full-batch solvers.

    Parameters
    ----------
    net : Network
        The network (structure only; the blocks use their own copies).
    X, Y : dask.array.Array
        Persisted inputs and encoded targets with the same row chunks, a
        single column chunk, in the network's dtype.
    sample_weight : dask.array.Array or None
        Persisted weights (times the class weights), same row chunks.
    weight_sum : float
        ``S``, the sum of the weights (the number of rows without them).
    alpha : float
        The L2 penalty.
    scale : float, default=1.0
        The power of two the weights and ``alpha`` were divided by (see
        :class:`~skbackprop._training.objective.Objective`).
    """

    targets = None  # never standardized (see InMemoryObjective)

    def __init__(self, net, X, Y, sample_weight, weight_sum, alpha, scale=1.0):
        self.net, self.X, self.Y, self.sample_weight = net, X, Y, sample_weight
        self.alpha, self.scale = alpha, scale
        self.n_samples = int(X.shape[0])
        self.weight_sum = float(weight_sum)
        self._spec = (
            net.layer_sizes,
            net.activation,
            net.loss,
            net.dtype,
            net.chunk_size,
        )
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

    def _sum_blocks(self, func, add, *args):
        """``add`` over ``func(spec, X_b, Y_b, s_b, *args)`` of every block.

        The small arguments enter the graph once, as one task each, so every
        worker fetches them once per evaluation whatever its number of blocks.
        """
        import dask

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
        return dask.compute(_tree_sum(dask, per_worker, add, f"{prefix}-total"))[0]

    def cost_grad(self, theta):
        """``(J, D)`` over all blocks; equal to :meth:`Network.cost_grad`."""
        net = self.net
        theta = net.as_theta(theta)
        J, D = self._sum_blocks(block_cost_grad, add_cost_grads, theta)
        with np.errstate(over="ignore", invalid="ignore"):
            return net.regularize(theta, J, D, self.alpha, self.weight_sum)

    def threads(self, batch_size=None, between=True):
        """The cluster's workers hold their own threads: nothing to hold here."""
        return contextlib.nullcontext()

    def hessp(self, theta, v, curvature):
        """``H v`` (or ``G v``) over all blocks; equal to ``network_hessp``."""
        net = self.net
        theta, v = net.as_theta(theta), net.as_theta(v)
        Hv = self._sum_blocks(block_hessp, _add_arrays, theta, v, curvature)
        with np.errstate(over="ignore", invalid="ignore"):
            return regularize_product(net, Hv, v, self.alpha, self.weight_sum)

    def cost(self, theta):
        """``J`` over all blocks, from forward passes only."""
        net = self.net
        theta = net.as_theta(theta)
        J = self._sum_blocks(block_cost, _add_floats, theta)
        W = theta[: net.n_coefs]
        J += 0.5 * self.alpha * float(np.einsum("i,i->", W, W))
        return J / self.weight_sum

    def gauss_newton(self, theta):
        """``(J, D, G)`` summed over all blocks, as the gradient is."""
        net = self.net
        theta = net.as_theta(theta)
        J, D, G = self._sum_blocks(block_gauss_newton, _add_gauss_newtons, theta)
        S = self.weight_sum
        with np.errstate(over="ignore", invalid="ignore"):
            J, D = net.regularize(theta, J, D, self.alpha, S)
        return J, D, regularize_matrix(net, G, self.alpha, S)

    def geodesic(self, theta, v):
        """``(1/S) sum_i s_i J_i' H_i r_vv,i`` summed over all blocks."""
        net = self.net
        theta, v = net.as_theta(theta), net.as_theta(v)
        total = self._sum_blocks(block_geodesic, _add_arrays, theta, v)
        with np.errstate(over="ignore", invalid="ignore"):
            return total / self.weight_sum
