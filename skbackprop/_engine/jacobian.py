"""The Jacobian of the network's logits and the Gauss-Newton matrix.

``J_i = dZ_i(L) / dtheta`` is the ``(n_L, n_params)`` Jacobian of the output
pre-activations (logits) of row ``i``.  Linearizing the forward cascade at
``theta`` gives its products without forming it:

* ``J v`` by the forward R-operator (Pearlmutter 1994), one forward pass of
  directional derivatives::

      R{Z(l)} = R{A(l-1)} W(l) + A(l-1) V(l) + Vb(l),  R{A(l)} = g'(Z(l)) R{Z(l)}

* ``J' u`` by backpropagation (Rumelhart, Hinton & Williams 1986) of the
  output signal ``d(L) = u``: ``d(l) = (d(l+1) W(l+1)') .* g'(Z(l))``,
  ``(J' u)(l) = A(l-1)' d(l)``, ``(J' u)_b(l) = sum_i d_i(l)``.

The dense rows ``J_i`` come from the same backward rule run once per output
unit (``d(L) = e_k``), without summing over rows: the weight block of row
``i`` is the outer product ``A_i(l-1) d_i(l)'``.  That costs ``n_L`` backward
passes per block, against ``n_params`` forward R-operator passes for the
columns ``J e_j``; ``benchmarks/bench_lm.py`` measures both.

The dense blocks serve the Gauss-Newton matrix
(:mod:`~skbackprop._engine.gauss_newton`) and the residuals' Jacobian of
``solver="least_squares"``; the products serve the latter's matrix-free
operator.
"""

import numpy as np
import scipy.sparse as sp

# A dense Jacobian block holds about this many elements (rows * n_L *
# n_params): the row count then adapts to the network's size.  Measured
# (1-10-1 to 10-40-1 tanh, float64): 2**16 to 2**18 were within 5%; 2**20
# and above were slower (the block and its product fall out of cache).
_JACOBIAN_ELEMENTS = 2**17


def jacobian_rows(net):
    """Rows per dense Jacobian block: at most ``net.chunk_size``."""
    width = net.layer_sizes[-1] * net.n_params
    return max(1, min(net.chunk_size, _JACOBIAN_ELEMENTS // width))


def linearization_rows(net, second=False):
    """Rows per block of a :class:`Linearization` used for products only:
    its arrays (activations, derivatives, the R-passes' values: about four,
    five with ``second``, per unit) hold the elements of one dense Jacobian
    block, whatever the number of rows; at most ``net.chunk_size``."""
    width = (5 if second else 4) * sum(net.layer_sizes[1:])
    return max(1, min(net.chunk_size, _JACOBIAN_ELEMENTS // width))


class Linearization:
    """The network linearized at ``theta`` on one block of rows.

    Runs the forward cascade once and keeps what the products need: the
    activations ``A(l)``, the derivatives ``g'(Z(l))`` and the logits
    ``Z(L)``.  Its memory is ``O(rows * sum_l n_l)``.

    Parameters
    ----------
    net : Network
        The network.
    params : tuple
        ``(coefs, intercepts)`` of ``theta`` (:meth:`Network.unpack`).
    X : ndarray or CSR matrix of shape (rows, n_0)
        The block's input rows, in the network's dtype.
    second : bool, default=False
        Keep the second derivatives ``g''(Z(l))`` too, for :meth:`jvp2`.
    """

    def __init__(self, net, params, X, second=False):
        self.net = net
        self.coefs, intercepts = params
        rows = X.shape[0]
        acts = [np.empty((rows, n), net.dtype) for n in net.layer_sizes[1:]]
        zs = net.z_buffers(rows)  # the Z(l) that g' needs, where it does
        self.Z = net.cascade(self.coefs, intercepts, X, acts, zs)
        self.X = X
        self.acts = [X, *acts[:-1]]  # A(0) .. A(L-1)
        derivatives = [
            g.second(A, Z) for g, A, Z in zip(net.g, acts[:-1], zs, strict=True)
        ]
        self.g1 = [None] + [d[0] for d in derivatives]
        self.g2 = [None] + [d[1] for d in derivatives] if second else None

    def jvp(self, v):
        """``J v``: the logits' directional derivative ``R{Z(L)}`` along ``v``."""
        V_coefs, V_intercepts = self.net.unpack(v)
        R = None
        for l, (W, V, Vb) in enumerate(
            zip(self.coefs, V_coefs, V_intercepts, strict=True)
        ):
            if l > 0:
                R *= self.g1[l]  # R{A(l)} = g'(Z(l)) R{Z(l)}
            RZ = np.asarray(self.acts[l] @ V, dtype=self.net.dtype)
            if l > 0:
                RZ += R @ W
            RZ += Vb
            R = RZ
        return R

    def jvp2(self, v):
        """``(J v, r_vv)``: the logits' first and second derivatives along ``v``.

        ``r_vv = d^2 Z(L)(theta + t v) / dt^2`` at ``t = 0`` by the
        second-order forward R-operator, beside the first::

            R2{Z(l)} = R2{A(l-1)} W(l) + 2 R{A(l-1)} V(l),
            R2{A(l)} = g''(Z(l)) R{Z(l)}^2 + g'(Z(l)) R2{Z(l)}

        with ``R2{Z(1)} = 0`` (``Z(1)`` is linear in ``theta``).  Needs the
        Linearization built with ``second=True``.
        """
        V_coefs, V_intercepts = self.net.unpack(v)
        R = R2 = None
        for l, (W, V, Vb) in enumerate(
            zip(self.coefs, V_coefs, V_intercepts, strict=True)
        ):
            RZ = np.asarray(self.acts[l] @ V, dtype=self.net.dtype)
            RZ += Vb
            if l > 0:
                R2 = self.g2[l] * R * R + self.g1[l] * R2  # R2{A(l-1)}
                R *= self.g1[l]  # R{A(l-1)}
                RZ += R @ W
                R2, R2V = R2 @ W, R @ V
                R2 += 2 * R2V
            else:
                R2 = np.zeros_like(RZ)
            R = RZ
        return R, R2

    def vjp(self, U, out):
        """``J' U`` into ``out`` (flat, added to): backpropagation of ``d(L) = U``."""
        out_coefs, out_intercepts = self.net.unpack(out)
        delta = U
        for l in range(len(self.coefs) - 1, -1, -1):
            A_prev = self.acts[l]
            out_coefs[l] += np.asarray(A_prev.T @ delta)
            out_intercepts[l] += delta.sum(axis=0)
            if l > 0:
                delta = (delta @ self.coefs[l].T) * self.g1[l]
        return out

    def signals(self):
        """Each layer's ``(A(l-1), d(l))`` for the dense rows, ``l = 1 .. L``.

        ``d(l)`` has shape ``(rows, n_L, n_l)``: the backward rule's signals
        of output unit ``k`` (``d(L) = e_k``), for every row.  Row ``i``'s
        Jacobian block of ``W(l)`` is the outer product ``A_i(l-1) d_i(l)'``
        and that of ``b(l)`` is ``d_i(l)``: the Jacobian without forming it.
        """
        net = self.net
        rows, n_out = self.Z.shape
        delta = np.broadcast_to(np.eye(n_out, dtype=net.dtype), (rows, n_out, n_out))
        out = []
        for l in range(len(self.coefs) - 1, -1, -1):
            out.append((self.acts[l], delta))
            if l > 0:
                delta = np.matmul(delta, self.coefs[l].T)
                delta *= self.g1[l][:, None, :]
        return out[::-1]

    def dense(self):
        """The block's Jacobian rows, shape ``(rows, n_L, n_params)``.

        One backward pass per output unit ``k`` (``d(L) = e_k``), all ``n_L``
        at once (:meth:`signals`), then the outer products
        (:func:`fill_jacobian`).
        """
        rows, n_out = self.Z.shape
        Jac = np.empty((rows, n_out, self.net.n_params), self.net.dtype)
        return fill_jacobian(self.net, self.signals(), Jac)


def fill_jacobian(net, layers, Jac):
    """Fill ``Jac`` (shape ``(rows, k, n_params)``) from each layer's
    ``(A(l-1), d(l))``, of shapes ``(rows, n_{l-1})`` (dense or sparse) and
    ``(rows, k, n_l)``: row ``i``'s block of ``W(l)`` is the outer product
    ``A_i(l-1) d_i(l)'`` and that of ``b(l)`` is ``d_i(l)``."""
    rows, k = Jac.shape[:2]
    slices = zip(net._coef_slices, net._intercept_slices, strict=True)
    for (A_prev, delta), ((a, b, shape), (c, d)) in zip(layers, slices, strict=True):
        if sp.issparse(A_prev):
            A_prev = A_prev.toarray()
        out = Jac[:, :, a:b].reshape(rows, k, *shape)
        np.multiply(A_prev[:, None, :, None], delta[:, :, None, :], out=out)
        Jac[:, :, c:d] = delta
    return Jac


def blocks(net, theta, X, rows, second=False):
    """``(start, stop, Linearization)`` over blocks of ``rows`` rows."""
    params = net.unpack(net.as_theta(theta))
    for start in range(0, X.shape[0], rows):
        stop = min(start + rows, X.shape[0])
        yield start, stop, Linearization(net, params, X[start:stop], second)


def network_jvp(net, theta, v, X):
    """``J v`` over all rows of ``X``: shape ``(m, n_L)``."""
    v = net.as_theta(v)
    out = np.empty((X.shape[0], net.layer_sizes[-1]), net.dtype)
    for start, stop, lin in blocks(net, theta, X, net.chunk_size):
        out[start:stop] = lin.jvp(v)
    return out


def network_vjp(net, theta, U, X):
    """``J' U`` over all rows of ``X`` (``U`` of shape ``(m, n_L)``)."""
    U = np.asarray(U, dtype=net.dtype).reshape(X.shape[0], net.layer_sizes[-1])
    out = np.zeros(net.n_params, net.dtype)
    for start, stop, lin in blocks(net, theta, X, net.chunk_size):
        lin.vjp(U[start:stop], out)
    return out


def network_jacobian(net, theta, X):
    """The dense Jacobian of all rows, shape ``(m, n_L, n_params)``."""
    out = np.empty((X.shape[0], net.layer_sizes[-1], net.n_params), net.dtype)
    for start, stop, lin in blocks(net, theta, X, jacobian_rows(net)):
        out[start:stop] = lin.dense()
    return out
