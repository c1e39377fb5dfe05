"""
===============================================
Decision boundaries by activation and by alpha
===============================================

How the hidden activation and the L2 penalty ``alpha`` shape what a small
network learns, on two interleaved half-moons.  The colour is the predicted
probability of the second class; the points are the training data.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
from sklearn.datasets import make_moons
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.model_selection import train_test_split

from skbackprop import BackpropClassifier

X, y = make_moons(n_samples=300, noise=0.3, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)


def plot_boundary(ax, clf, title):
    DecisionBoundaryDisplay.from_estimator(
        clf,
        X,
        response_method="predict_proba",
        cmap="RdBu",
        alpha=0.8,
        ax=ax,
        grid_resolution=100,
        eps=0.3,
    )
    ax.scatter(*X_train.T, c=y_train, cmap="RdBu", edgecolors="k", s=15)
    ax.set_title(f"{title}\ntest accuracy {clf.score(X_test, y_test):.2f}", fontsize=9)
    ax.set_xticks(())
    ax.set_yticks(())


# %%
# By activation
# -------------
# Twenty hidden units, a small penalty.  ``"identity"`` makes the whole
# network linear, so its boundary is a straight line; ``"logistic"`` and
# ``"tanh"`` give smooth curves; ``"relu"`` gives a piecewise-linear one.
activations = ["identity", "logistic", "tanh", "relu"]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for ax, activation in zip(axes, activations, strict=True):
    clf = BackpropClassifier(
        hidden_layer_sizes=(20,),
        activation=activation,
        alpha=1e-2,
        max_iter=2000,
        random_state=0,
    ).fit(X_train, y_train)
    plot_boundary(ax, clf, f'activation="{activation}"')
fig.tight_layout()

# %%
# By alpha
# --------
# The same ``tanh`` network, more and more penalized.  With almost no penalty
# the boundary follows the noise of the training points; a large ``alpha``
# shrinks the weights towards zero and the boundary towards a straight line.
alphas = [1e-4, 1e-1, 1.0, 10.0]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for ax, alpha in zip(axes, alphas, strict=True):
    clf = BackpropClassifier(
        hidden_layer_sizes=(50,),
        activation="tanh",
        alpha=alpha,
        max_iter=2000,
        random_state=0,
    ).fit(X_train, y_train)
    plot_boundary(ax, clf, f"alpha={alpha:g}")
fig.tight_layout()
plt.show()
