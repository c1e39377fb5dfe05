"""The fitted posterior: ``alpha_``, the evidence's attributes, error bars.

After every fit :func:`fit_posterior` sets ``alpha_``,
``n_effective_params_`` and ``evidence_curve_``, and for a squared-error
:class:`BackpropRegressor` ``noise_variance_`` and the Laplace
approximation that :func:`predict_with_std` turns into error bars
(MacKay 1992)::

    var_k(x) = noise_variance_ (1 + g_k' M^-1 g_k)

with ``M = G_D + alpha P + epsilon (I - P)``
(:mod:`~skbackprop._engine.laplace`) and ``g_k``
the gradient of output ``k`` with respect to the parameters:

* ``alpha="evidence"`` or ``"ard"`` on a network of at most :data:`FULL_LIMIT`
  parameters: the whole network's ``M``, whose Cholesky factor the
  evidence loop computed (kept: ``8 n_params^2`` bytes);
* the same after a loop through the data space (more parameters than
  data), in its data-space form
  (:func:`~skbackprop._engine.data_space.posterior`), while that takes no
  more memory: ``8 (n_params + r) r`` bytes for ``r`` rows times outputs;
* otherwise the last layer's (Kristiadi, Hein & Hennig 2020): the hidden
  layers held at their fitted values, ``M`` over the output layer's
  weights and bias, ``n_{L-1} + 1`` square, from one forward pass over the
  training rows.  With a float ``alpha`` the noise variance is the training
  residuals' ``2 E_D / (N - gamma)``, ``gamma`` the last layer's effective
  number of parameters (MacKay's re-estimate of ``beta`` at that ``alpha``).
"""

import numpy as np
from sklearn.base import is_regressor
from sklearn.utils.validation import check_is_fitted

from skbackprop._engine import laplace
from skbackprop._engine.params import pack_params
from skbackprop._state import check_fitted_state, fitted_loss
from skbackprop._training.evidence_terms import FACTOR_LIMIT, at_alpha
from skbackprop._transaction import snapshot

PREDICT_DOC = """Predict targets, and with ``return_std`` their standard deviations.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input data.
    return_std : bool, default=False
        Also return the standard deviation of the predictive
        distribution of the Laplace approximation (MacKay 1992):
        ``sqrt(noise_variance_ + g' A^-1 g)``, ``g`` the gradient of the
        output with respect to the weights and ``A`` the posterior
        precision (see :ref:`bayesian`).  For ``loss="squared_error"``
        models fitted by ``fit`` on in-memory data.

    Returns
    -------
    y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Predictions (the mean count for ``loss="poisson"``); a lazy Dask
        array for Dask input.
    y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Standard deviation of the predictive distribution of each
        output.  Only returned when ``return_std`` is True.
    """

# The whole network's factor is kept up to this many parameters (32 MB);
# above, the last layer's.
FULL_LIMIT = FACTOR_LIMIT
# The last layer's matrix is formed up to this many inputs (n_{L-1} + 1).
LAST_LAYER_LIMIT = 2000


def fit_posterior(est, objective, result, rows):
    """Set the posterior's fitted attributes of ``est`` after a fit.

    ``rows`` is ``(X, sample_weight)`` of the training rows in memory, or
    None (Dask input, ``partial_fit``): no error bars then.
    """
    net, theta = objective.net, result.theta
    n_b = net.n_params - net.n_coefs
    evidence = result.evidence_curve is not None
    if not evidence:
        alpha = est.alpha_ = float(est._alpha_in_use())
    elif np.ndim(result.alpha):
        # alpha="ard": the groups' alphas, inputs first.  The last layer's
        # weights have the last group's; with no hidden layer they are the
        # inputs' weights, each row (one per input) its input's.
        est.alpha_ = np.asarray(result.alpha, np.float64)
        alpha = est.alpha_ if len(net.layer_sizes) == 2 else float(est.alpha_[-1])
    else:
        alpha = est.alpha_ = float(result.alpha)
    est.n_effective_params_ = result.gamma + n_b if evidence else None
    est.evidence_curve_ = result.evidence_curve
    if not is_regressor(est):
        return
    est.noise_variance_ = result.noise_variance
    est._laplace = None
    if net.loss.likelihood != "gaussian" or rows is None:
        return
    if isinstance(result.factor, dict):
        # Kept while it takes no more memory than the dense factor would.
        if result.factor["basis"].size + result.factor["factor"].size <= FULL_LIMIT**2:
            est._laplace = {"kind": "data-space", **result.factor}
            return
    elif result.factor is not None and net.n_params <= FULL_LIMIT:
        est._laplace = {"kind": "full", "factor": result.factor}
        return
    n = net.layer_sizes[-2]
    if n + 1 > LAST_LAYER_LIMIT:
        return
    X, sample_weight = rows
    # The objective's weights and alpha are the user's divided by c: so are
    # G, M and E_D here; the weights count as repetitions (N = c S n_out),
    # and the factor kept is that of the user's M, sqrt(c) L.
    c = objective.scale
    alpha = alpha / c if evidence else float(objective.alpha)
    with np.errstate(over="ignore", invalid="ignore"):
        G = laplace.last_layer_gram(net, theta, X, sample_weight)
        if not np.isfinite(G).all():
            return  # the last layer's inputs overflow: no error bars
        epsilon = laplace.free_precision(np.diag(G))
        L = laplace.factor(laplace.precision(G, n, alpha, epsilon))
        if not evidence:
            S, n_out = objective.weight_sum, net.layer_sizes[-1]
            E_D = at_alpha(objective, 0.0).cost(theta) * S
            gamma = n_out * (n + 1 - alpha * laplace.weight_trace(L, n))
            est.noise_variance_ = 2 * E_D / max(S * n_out - gamma / c, 1.0 / c)
        L = L * np.sqrt(c)
    est._laplace = {"kind": "last-layer", "factor": L}


def _output_scale(net, scale):
    """Per parameter: ``scale`` for the output layer's weights and biases, 1
    for the others."""
    t = np.ones(net.n_params)
    coefs, intercepts = net.unpack(t)
    coefs[-1][...] = scale
    intercepts[-1][...] = scale
    return t


def from_target_units(net, theta, targets):
    """``theta`` (in the targets' units) for standardized targets: the
    output layer's weights divided by the scale, its biases shifted and
    divided."""
    mean, scale = targets
    theta = np.array(theta, copy=True)
    coefs, intercepts = net.unpack(theta)
    coefs[-1] /= scale
    intercepts[-1][...] = (intercepts[-1] - mean) / scale
    return theta


def to_target_units(est, net, targets, n_data):
    """Turn a fit on standardized targets into one in the targets' units.

    With ``y = mean + scale * y_std``, the output layer's weights and biases
    are multiplied by ``scale`` (and the biases shifted by ``mean``), so the
    network predicts in the targets' units; the cost, the loss curve and
    the noise variance are multiplied by ``scale^2``; the Laplace factor
    ``L`` (``M = L L'``) becomes ``scale T^-1 L``, ``T`` the scale of each
    parameter (``scale`` on the output layer, 1 elsewhere), which leaves the
    error bars' relative part unchanged and multiplies them by ``scale``;
    the log evidence gains the transformation's ``-N log scale`` (``N =
    n_data``, the weighted rows times the outputs).
    ``alpha_`` stays the penalty of the standardized fit.
    """
    mean, scale = targets
    est.coefs_[-1] *= est.coefs_[-1].dtype.type(scale)
    est.intercepts_[-1] = (est.intercepts_[-1] * scale + mean).astype(
        est.intercepts_[-1].dtype
    )
    square = scale * scale
    est.loss_ *= square
    est.loss_curve_ = [value * square for value in est.loss_curve_]
    if est.best_loss_ is not None:
        est.best_loss_ *= square
    if getattr(est, "noise_variance_", None) is not None:
        est.noise_variance_ *= square
    if est.evidence_curve_ is not None:
        N = n_data * np.log(scale)
        # An infinite log evidence (about 1e308 rows) stays as it is.
        est.evidence_curve_ = [
            value - N if np.isfinite(value) else value for value in est.evidence_curve_
        ]
    laplace_ = getattr(est, "_laplace", None)
    if laplace_ is not None and laplace_["kind"] == "full":
        t = _output_scale(net, scale)
        laplace_["factor"] = (scale / t)[:, None] * laplace_["factor"]
    elif laplace_ is not None and laplace_["kind"] == "data-space":
        # ||L^-1 g|| with L scaled as above: g scaled by t / scale first.
        laplace_["scale"] = laplace_["scale"] * _output_scale(net, scale) / scale


def predict_with_std(est, X):
    """``(y_mean, y_std)`` of the Laplace approximation (see the module)."""
    est = snapshot(est)  # one fitted state throughout, whatever fits meanwhile
    check_is_fitted(est)
    check_fitted_state(est, posterior=True)  # attributes edited since fit
    posterior = getattr(est, "_laplace", None)
    if posterior is None:
        if fitted_loss(est).likelihood != "gaussian":
            reason = f"loss={est.loss!r} has no Gaussian noise"
        else:
            reason = (
                "the model was trained by partial_fit or on Dask input, or its "
                f"last hidden layer has more than {LAST_LAYER_LIMIT - 1} units"
            )
        raise ValueError(
            "return_std=True needs the Laplace approximation of a model fitted "
            f"with loss='squared_error' by fit on in-memory data: {reason}."
        )
    predictor = est._predictor(X)
    X = predictor.rows()
    transform, args = est._output_transform("predict")
    dtype = np.result_type(X.dtype, est.coefs_[0].dtype)
    net = est._network(est._fitted_sizes(), dtype)
    theta = pack_params(
        [c.astype(dtype, copy=False) for c in est.coefs_],
        [b.astype(dtype, copy=False) for b in est.intercepts_],
    )
    # sqrt(noise (1 + g' M^-1 g)) as sqrt(noise) hypot(1, ||L^-1 g||): no
    # square overflows where the standard deviation itself is finite.
    if posterior["kind"] == "full":
        r = laplace.full_variances(net, theta, X, posterior["factor"], root=True)
    elif posterior["kind"] == "data-space":
        r = laplace.data_space_variances(net, theta, X, posterior, root=True)
    else:
        r = laplace.last_layer_variances(net, theta, X, posterior["factor"], root=True)
    y_std = transform(np.sqrt(est.noise_variance_) * np.hypot(1.0, r), *args)
    return predictor.apply(transform, args), y_std
