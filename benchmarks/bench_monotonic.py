"""What monotonic constraints cost in accuracy, and what helps.

Two problems:

* **synthetic**: ``y = f(x) + noise`` on four uniform features in
  ``[-2, 2]``, increasing and concave in ``x0``, decreasing in ``x1``, not
  monotone in ``x2`` (a sine) and ``x3`` (a parabola); 1000 training rows,
  5000 test rows.  The constraints ``[1, -1, 0, 0]`` are true.
* **diabetes** (scikit-learn's): disease progression, constrained
  increasing in body-mass index, blood pressure and ``s5`` (the log of
  serum triglycerides), each positively correlated with the target; 5-fold
  cross-validated R^2.

Each row is a :class:`~skbackprop.BackpropRegressor` behind a
:class:`~sklearn.preprocessing.StandardScaler`, with and without
``monotonic_cst``, for several activations.  The last rows test the remedy
of Runje & Shankaranarayana (ICML 2023), whose monotone layers mix a convex
activation (ReLU), its concave reflection ``min(z, 0)`` and a saturated one
(``clip(z, -1, 1)``) in equal thirds of the units; it is registered here,
for this experiment only, as the activation ``"cmnn_relu"``.

Run ``python benchmarks/bench_monotonic.py`` (a few minutes); it writes
``benchmarks/results/monotonic.md``.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import StrOptions

import skbackprop._base
from skbackprop import BackpropRegressor
from skbackprop._engine.activations import HIDDEN_ACTIVATIONS, Activation


# -- the experimental activation ------------------------------------------------------
def _thirds(n):
    return n // 3, 2 * n // 3


def _cmnn_relu(Z, out=None):
    out = Z if out is None else np.copyto(out, Z) or out
    a, b = _thirds(out.shape[1])
    np.maximum(out[:, :a], 0, out=out[:, :a])  # convex
    np.minimum(out[:, a:b], 0, out=out[:, a:b])  # concave
    np.clip(out[:, b:], -1, 1, out=out[:, b:])  # saturated
    return out


def _cmnn_relu_slope(A):
    a, b = _thirds(A.shape[1])
    slope = np.empty_like(A)
    slope[:, :a] = A[:, :a] > 0
    slope[:, a:b] = A[:, a:b] < 0
    slope[:, b:] = np.abs(A[:, b:]) < 1
    return slope


def _register():
    HIDDEN_ACTIVATIONS["cmnn_relu"] = Activation(
        _cmnn_relu,
        lambda A, Z, delta: np.multiply(delta, _cmnn_relu_slope(A), out=delta),
        lambda A, Z: (_cmnn_relu_slope(A), np.zeros_like(A)),
        False,
        True,
    )
    constraints = skbackprop._base.BaseBackprop._parameter_constraints
    constraints["activation"][0] = StrOptions(set(HIDDEN_ACTIVATIONS))


# -- the problems ----------------------------------------------------------------------
def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 4))
    f = (
        2 * np.sqrt(np.logaddexp(0, 1.5 * X[:, 0]))
        + np.tanh(2 * X[:, 0])
        - 0.5 * np.exp(-X[:, 1])
        - 1.2 * np.sqrt(X[:, 1] + 2)
        + np.sin(2 * X[:, 2])
        + 0.5 * X[:, 3] ** 2
    )
    return X, f + rng.normal(scale=0.3, size=n)


CONFIGS = [
    ("relu", False),
    ("tanh", False),
    ("relu", True),
    ("softplus", True),
    ("tanh", True),
    ("logistic", True),
    (["relu", "tanh"], True),
    ("cmnn_relu", True),
]


def _model(hidden, activation, cst, alpha, max_iter, seed):
    return make_pipeline(
        StandardScaler(),
        BackpropRegressor(
            hidden,
            activation,
            alpha=alpha,
            max_iter=max_iter,
            random_state=seed,
            monotonic_cst=cst,
        ),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    _register()
    X_train, y_train = synthetic(1000, 0)
    X_test, y_test = synthetic(5000, 1)
    X_db, y_db = load_diabetes(return_X_y=True)
    cst_db = np.zeros(10, int)
    cst_db[[2, 3, 8]] = 1  # bmi, bp, s5
    lines = [
        "# Accuracy of monotonic constraints",
        "",
        "Test R^2 on the synthetic problem (mean +- std over "
        f"{args.seeds} seeds), 5-fold cross-validated R^2 on diabetes.",
        "",
        "| hidden | activation | constrained | synthetic R^2 | diabetes R^2 |",
        "|---|---|---|---:|---:|",
    ]
    for hidden_syn, hidden_db in [((32,), (16,)), ((32, 16), (16, 8))]:
        for activation, constrained in CONFIGS:
            if not isinstance(activation, str) and len(hidden_syn) == 1:
                continue
            syn = [
                _model(
                    hidden_syn,
                    activation,
                    [1, -1, 0, 0] if constrained else None,
                    1e-3,
                    500,
                    seed,
                )
                .fit(X_train, y_train)
                .score(X_test, y_test)
                for seed in range(args.seeds)
            ]
            model = _model(
                hidden_db, activation, cst_db if constrained else None, 1.0, 300, 0
            )
            db = cross_val_score(
                model, X_db, y_db, cv=KFold(5, shuffle=True, random_state=0)
            )
            row = (
                f"| {hidden_syn} / {hidden_db} | {activation} | "
                f"{'yes' if constrained else 'no'} | "
                f"{np.mean(syn):.3f} +- {np.std(syn):.3f} | "
                f"{db.mean():.3f} +- {db.std():.3f} |"
            )
            lines.append(row)
            print(row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monotonic.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
