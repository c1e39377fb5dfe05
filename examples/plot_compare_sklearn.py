"""
==============================================
Side by side with scikit-learn's MLPClassifier
==============================================

:class:`~skbackprop.BackpropClassifier` and
:class:`sklearn.neural_network.MLPClassifier` with ``solver="lbfgs"``
minimize the same regularized log-loss with the same L-BFGS-B method.  With
the same architecture, penalty, iteration budget and ``random_state`` they
start from the same initial weights (the Glorot-uniform draw of
:func:`~skbackprop.init_params`), so the difference is how the cost and its
gradient are computed.  This example compares wall time, final loss and
accuracy on the digits, in float64 and in float32.
"""

# %%
# The same problem for both
# -------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

params = dict(hidden_layer_sizes=(128,), alpha=1e-2, max_iter=100, random_state=0)
models = {
    "scikit-learn MLPClassifier": lambda: MLPClassifier(solver="lbfgs", **params),
    "skbackprop BackpropClassifier": lambda: BackpropClassifier(
        solver="L-BFGS-B", **params
    ),
}


def best_time(make, X, y, repeats=3):
    """The fastest of a few fits (timings on a shared machine are noisy)."""
    times = []
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    return model, min(times)


# %%
# Fit and compare
# ---------------
# In float32 the skbackprop network computes in float32 and keeps float32
# weights; scikit-learn's lbfgs path converts to float64.
rows = []
for dtype in (np.float64, np.float32):
    for name, make in models.items():
        model, seconds = best_time(make, X_train.astype(dtype), y_train)
        rows.append(
            dict(
                name=name,
                dtype=np.dtype(dtype).name,
                seconds=seconds,
                n_iter=model.n_iter_,
                loss=model.loss_,
                accuracy=model.score(X_test.astype(dtype), y_test),
                weights=model.coefs_[0].dtype.name,
            )
        )
print(
    f"{'':30s} {'data':>8s} {'time (s)':>9s} {'iter':>5s} {'loss':>8s} "
    f"{'accuracy':>9s} {'weights':>8s}"
)
for r in rows:
    print(
        f"{r['name']:30s} {r['dtype']:>8s} {r['seconds']:9.3f} {r['n_iter']:5d} "
        f"{r['loss']:8.4f} {r['accuracy']:9.3f} {r['weights']:>8s}"
    )

# %%
# The final losses and accuracies agree closely: the two packages solve the
# same problem from the same start.  The time depends on the machine (and
# its load while these pages were built); the benchmarks in the repository
# measure it properly.
fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
labels = [f"{r['name'].split()[0]}\n{r['dtype']}" for r in rows]
colors = ["C0" if r["name"].startswith("scikit") else "C1" for r in rows]
for ax, key, title in zip(
    axes,
    ["seconds", "loss", "accuracy"],
    ["fit time (s), best of 3", "final training cost J", "test accuracy"],
    strict=True,
):
    ax.bar(labels, [r[key] for r in rows], color=colors)
    ax.set_title(title)
    ax.tick_params(axis="x", labelsize=8)
axes[2].set_ylim(0.9, 1.0)
fig.tight_layout()
plt.show()
