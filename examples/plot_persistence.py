"""
============================
Saving and loading a model
============================

Two ways to store a fitted estimator: joblib (pickle), fast and complete but
able to run arbitrary code when a file is loaded, and skops, which loads
only the types you trust.  Both give back a model whose predictions are
bit-identical.  See :ref:`persistence` in the user guide.
"""

# %%
# A fitted model
# --------------
import shutil
import tempfile
from pathlib import Path

import joblib
import numpy as np
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbackprop import BackpropClassifier, trusted_types

X, y = load_iris(return_X_y=True)
model = make_pipeline(
    StandardScaler(),
    BackpropClassifier(hidden_layer_sizes=(10,), max_iter=500, random_state=0),
).fit(X, y)
proba = model.predict_proba(X)
folder = Path(tempfile.mkdtemp())

# %%
# joblib
# ------
# ``joblib.dump`` pickles the estimator; ``joblib.load`` gives it back.
# Only load pickle or joblib files that you (or someone you trust) wrote:
# loading one runs code chosen by its author.
joblib.dump(model, folder / "model.joblib")
loaded = joblib.load(folder / "model.joblib")
print(
    "joblib: identical probabilities:", np.array_equal(loaded.predict_proba(X), proba)
)

# %%
# skops, for files from others
# ----------------------------
# ``skops.io`` stores the same state without pickle.  Loading refuses any
# type that is not trusted; a fitted skbackprop estimator contains only
# NumPy arrays, built-in containers, scikit-learn's own types and the
# estimator class, which :func:`~skbackprop.trusted_types` lists.
sio.dump(model, folder / "model.skops")
unknown = sio.get_untrusted_types(file=folder / "model.skops")
print("types skops does not trust by default:", unknown)
print("all of them are skbackprop's own:", set(unknown) <= set(trusted_types()))

# %%
# Inspect first, then load trusting exactly those types.  A file that held
# anything else (a function, a class from another package) would be refused
# with an error naming the type.
loaded = sio.load(folder / "model.skops", trusted=trusted_types())
same = np.array_equal(loaded.predict_proba(X), proba)
print("skops: identical probabilities:", same)
print(loaded)
shutil.rmtree(folder)
