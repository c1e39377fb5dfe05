"""
==========================================
Quickstart: a pipeline and a grid search
==========================================

:class:`~skbackprop.BackpropClassifier` is a scikit-learn estimator: it goes
into a :class:`~sklearn.pipeline.Pipeline` behind a scaler, and
:class:`~sklearn.model_selection.GridSearchCV` tunes it like any other.
Here it learns to read the 8x8 handwritten digits that ship with
scikit-learn.
"""

# %%
# The data and the model
# ----------------------
# 1,797 images of 64 pixels, ten classes.  The network has one hidden layer;
# it is trained by L-BFGS-B on the exact batch gradient (the default solver).
# Scaling the inputs matters for every neural network.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
model = make_pipeline(
    StandardScaler(),
    BackpropClassifier(hidden_layer_sizes=(32,), max_iter=500, random_state=0),
)
model.fit(X_train, y_train)
clf = model[-1]
print(f"Test accuracy: {model.score(X_test, y_test):.3f}")
print(
    f"L-BFGS-B stopped after {clf.n_iter_} iterations (max_iter={clf.max_iter}), "
    f"training loss {clf.loss_:.1e}, training accuracy "
    f"{model.score(X_train, y_train):.3f}"
)

# %%
# Tuning the size and the penalty
# -------------------------------
# A grid over the hidden layer's size and the L2 penalty ``alpha``, with
# 3-fold cross-validation on the training set.
grid = GridSearchCV(
    model,
    param_grid={
        "backpropclassifier__hidden_layer_sizes": [(16,), (64,)],
        "backpropclassifier__alpha": [1e-4, 1e-2, 1.0, 3.0],
    },
    cv=3,
)
grid.fit(X_train, y_train)
print("Best parameters:", grid.best_params_)
print(f"Test accuracy of the best model: {grid.score(X_test, y_test):.3f}")

# %%
# The cross-validated accuracy over the grid.  With scikit-learn's penalty
# (``alpha=1e-4``), L-BFGS-B drives the training loss almost to zero in a few
# dozen iterations: the network fits the training set exactly, noise
# included.  The default ``alpha=1.0`` (chosen on scikit-learn's bundled data
# sets, see :ref:`default_penalty`) keeps the weights smaller and the decision
# functions smoother; the plot shows how the penalty changes the
# cross-validated accuracy.
results = grid.cv_results_
alphas = np.array(results["param_backpropclassifier__alpha"], dtype=float)
sizes = [p[0] for p in results["param_backpropclassifier__hidden_layer_sizes"]]
fig, ax = plt.subplots(figsize=(6, 4))
for size in sorted(set(sizes)):
    rows = [i for i, s in enumerate(sizes) if s == size]
    order = np.argsort(alphas[rows])
    rows = np.array(rows)[order]
    ax.errorbar(
        alphas[rows],
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows],
        marker="o",
        capsize=3,
        label=f"{size} hidden units",
    )
ax.set_xscale("log")
ax.set_xlabel("alpha (L2 penalty)")
ax.set_ylabel("cross-validated accuracy")
ax.set_title("Digits: accuracy over the grid")
ax.legend()
fig.tight_layout()
plt.show()
