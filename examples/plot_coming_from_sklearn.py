"""
===================================
Coming from scikit-learn's MLP
===================================

The same settings, passed to :class:`sklearn.neural_network.MLPClassifier`
and to :class:`~skbackprop.BackpropClassifier`, give the same fit: with
``solver="lbfgs"`` both hand the same cost and gradient to SciPy's L-BFGS-B
from the same initial weights, and ``solver="sgd"`` with a full batch is
``solver="gd"`` with the same momentum.  This example runs both libraries
side by side on the same data, compares the weights, and plots the loss
curves.  See :ref:`coming-from-sklearn` for every parameter.
"""

# %%
# The same data and settings for both
# -----------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
common = dict(hidden_layer_sizes=(16,), alpha=1e-4, random_state=0)


def weights(model):
    """All the weights and biases of a fitted model, as one vector."""
    return np.concatenate([a.ravel() for a in model.coefs_ + model.intercepts_])


# %%
# ``solver="lbfgs"``: the same L-BFGS-B run
# -----------------------------------------
# ``"lbfgs"`` is accepted as the name of SciPy's ``"L-BFGS-B"``, with the
# same mapping of ``max_iter``, ``tol`` and ``max_fun`` to its options.
sk_lbfgs = MLPClassifier(solver="lbfgs", max_iter=200, **common).fit(X, y)
bp_lbfgs = BackpropClassifier(solver="lbfgs", max_iter=200, **common).fit(X, y)
print(f"iterations: scikit-learn {sk_lbfgs.n_iter_}, skbackprop {bp_lbfgs.n_iter_}")
print(f"|loss difference|  = {abs(sk_lbfgs.loss_ - bp_lbfgs.loss_):.1e}")
print(f"max |weight diff.| = {np.abs(weights(sk_lbfgs) - weights(bp_lbfgs)).max():.1e}")
assert np.abs(weights(sk_lbfgs) - weights(bp_lbfgs)).max() < 1e-10

# %%
# scikit-learn keeps no loss curve for ``"lbfgs"``; L-BFGS-B is
# deterministic, so fits stopped after 1, 2, ... iterations trace its path.
sk_lbfgs_curve = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for k in range(1, sk_lbfgs.n_iter_ + 1):
        model = MLPClassifier(solver="lbfgs", max_iter=k, **common).fit(X, y)
        sk_lbfgs_curve.append(model.loss_)

# %%
# ``solver="sgd"``: gradient descent with momentum
# ------------------------------------------------
# scikit-learn's ``"sgd"`` is ``solver="gd"`` here.  The defaults differ
# (``learning_rate_init`` 0.001 vs 0.05, ``momentum`` 0.9 vs 0,
# ``nesterovs_momentum`` True vs False, ``batch_size`` "auto" vs None), so
# spell the settings out; ``n_iter_no_change=np.inf`` runs all ``max_iter``
# epochs in both.  With a full batch the two take exactly the same steps.
sgd = dict(
    learning_rate_init=0.01,
    momentum=0.9,
    nesterovs_momentum=True,
    batch_size=len(X),
    max_iter=150,
    n_iter_no_change=np.inf,
    **common,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is reached
    sk_sgd = MLPClassifier(solver="sgd", **sgd).fit(X, y)
    bp_gd = BackpropClassifier(solver="gd", **sgd).fit(X, y)
print(f"max |weight diff.| = {np.abs(weights(sk_sgd) - weights(bp_gd)).max():.1e}")
assert np.abs(weights(sk_sgd) - weights(bp_gd)).max() < 1e-10

# %%
# scikit-learn records each epoch's loss as it computes the gradient, before
# the update; skbackprop records the cost at the parameters the update
# produced.  The curves are the same, one epoch apart: plotted against the
# number of updates made before the loss was measured, they coincide.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.semilogy(
    range(1, len(sk_lbfgs_curve) + 1), sk_lbfgs_curve, "o", label="MLPClassifier"
)
ax1.semilogy(
    range(1, bp_lbfgs.n_iter_ + 1), bp_lbfgs.loss_curve_, "-", label="skbackprop"
)
ax1.set(title='solver="lbfgs"', xlabel="iterations", ylabel="training cost J")
ax2.semilogy(
    range(sk_sgd.n_iter_), sk_sgd.loss_curve_, "o", ms=3, label='MLPClassifier "sgd"'
)
ax2.semilogy(
    range(1, bp_gd.n_iter_ + 1), bp_gd.loss_curve_, "-", label='skbackprop "gd"'
)
ax2.set(title="gradient descent, momentum 0.9", xlabel="updates made")
for ax in (ax1, ax2):
    ax.legend()
fig.tight_layout()
plt.show()

# %%
# Where they part
# ---------------
# * Mini-batches: scikit-learn penalizes each batch of ``b`` rows with
#   ``alpha / b``, skbackprop with ``alpha / n_samples`` (each mini-batch
#   gradient is then an unbiased estimate of the full-batch one), and the two
#   shuffle the rows differently.  With ``alpha=0`` and ``shuffle=False``
#   their mini-batch fits coincide too.
# * ``learning_rate="invscaling"`` counts samples seen in scikit-learn
#   (updated once per epoch), updates here.
# * ``"adam"`` has no counterpart: use ``"L-BFGS-B"`` (the default), or
#   ``"gd"`` with a ``batch_size`` and momentum for data too large for full
#   batches.
