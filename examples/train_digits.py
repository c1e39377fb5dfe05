"""The main job: fit a BackpropClassifier on scikit-learn's digits.

Run with ``python examples/train_digits.py``.  Prints the test accuracy, the
fit time, and what the solver did.
"""

import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier, __version__


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = make_pipeline(
        StandardScaler(),
        BackpropClassifier(
            hidden_layer_sizes=(64,),
            activation="tanh",
            solver="L-BFGS-B",
            alpha=1e-2,
            max_iter=300,
            random_state=0,
        ),
    )
    start = time.perf_counter()
    model.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    clf = model[-1]
    print(f"skbackprop {__version__}: BackpropClassifier on digits")
    print(f"  train / test rows   : {len(X_train)} / {len(X_test)}")
    print(f"  solver              : {clf.solver}, {clf.n_iter_} iterations")
    print(f"  final training loss : {clf.loss_:.5f}")
    print(f"  test accuracy       : {model.score(X_test, y_test):.4f}")
    print(f"  fit time            : {elapsed:.2f} s")


if __name__ == "__main__":
    main()
