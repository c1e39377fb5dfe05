"""Sphinx configuration of the skbackprop documentation.

Build (nitpicky, warnings are errors, the gallery examples are executed)::

    python -m sphinx -n -W --keep-going -b html docs docs/_build/html
    python docs/tools/check_html.py docs/_build/html

The built site needs no network: MathJax is bundled into ``_static`` by
sphinx-mathjax-offline, and no page loads a script or a stylesheet from
another site (``docs/tools/check_html.py`` checks it, with the local links
and anchors).  Intersphinx works offline by default: the links to NumPy,
SciPy, scikit-learn, Python, Dask and skops resolve through small plain-text
inventories in ``docs/_inventories`` (only the names these docs use).  Set
``SKBACKPROP_DOCS_ONLINE=1`` to fetch the projects' full inventories first;
the local ones remain the fallback, so a build never fails for want of
network.
"""

import os
import re
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The gallery's problems are small: one BLAS thread per process runs them as
# fast, and keeps the build time steady on a busy machine, where threaded
# BLAS on small matrices can slow down many times over.  Set the variables
# to override.  (Must happen before NumPy is imported.)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# Document the package of this working tree, even if another one is installed;
# sphinxext/ holds the gallery's sort key and the benchmark figures.
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "sphinxext"))

import skbackprop  # noqa: E402

# -- Project -------------------------------------------------------------------
project = "skbackprop"
author = "The skbackprop developers"
copyright = "2026, The skbackprop developers"
release = skbackprop.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # Copies MathJax into _static/mathjax and points mathjax_path at it.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    # Figures and tables from benchmarks/results/*.json (docs/sphinxext).
    "bench_figures",
]
templates_path = ["_templates"]
# sg_execution_times.rst: the gallery's timing pages, no longer written (see
# sphinx_gallery_conf); a copy left by an older build is not a page.
exclude_patterns = [
    "_build",
    "_inventories",
    "tools",
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
    "Thumbs.db",
    ".DS_Store",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
default_role = "literal"
# The changelog's Keep-a-Changelog headings repeat ("Added", "Fixed"): give
# them no document-level anchors rather than duplicate ones.
myst_heading_anchors = 0

# -- autodoc / autosummary / numpydoc -----------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Link the types in Parameters/Returns/Attributes (through intersphinx).
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "dtype": "numpy.dtype",
    "np.float32": "numpy.float32",
    "np.float64": "numpy.float64",
    "RandomState": "numpy.random.RandomState",
    "OptimizeResult": "scipy.optimize.OptimizeResult",
    "scipy.optimize.OptimizeResult": "scipy.optimize.OptimizeResult",
    "BackpropClassifier": "skbackprop.BackpropClassifier",
    "BackpropRegressor": "skbackprop.BackpropRegressor",
}
numpydoc_xref_ignore = "all"
# Check the docstrings of the public API (numpydoc's validator): a failing
# check is a warning, so an error under -W.  Skipped checks:
# ES01 (extended summary), SA01 (See Also), EX01 (Examples) are not required
# for every method; GL08 (no docstring) is left to ruff and review; RT02
# because the house style names returned values (``self : BackpropClassifier``).
numpydoc_validation_checks = {"all", "ES01", "SA01", "EX01", "GL08", "RT02"}
# Methods inherited from scikit-learn keep scikit-learn's docstrings.
numpydoc_validation_exclude = {
    r"\.get_params$",
    r"\.set_params$",
    r"\.get_metadata_routing$",
    r"\.set_\w+_request$",
    r"\.score$",
    r"\.__init__$",
}

# -- Intersphinx (offline-first) ----------------------------------------------
# Each project's links resolve through a small hand-written inventory in
# docs/_inventories (one "name domain:type priority location display-name"
# line per name these docs use), compressed here into Sphinx's format.  With
# SKBACKPROP_DOCS_ONLINE=1 the project's full inventory is fetched first and
# the local one is only the fallback: a build never fails for want of network.
_ONLINE = os.environ.get("SKBACKPROP_DOCS_ONLINE", "") not in ("", "0")
_INVENTORY_DIR = HERE / "_build" / "_inventories"


def _inventory(name, project, url):
    text = (HERE / "_inventories" / f"{name}.inv.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: stable\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    local = _INVENTORY_DIR / f"{name}.inv"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(header.encode() + zlib.compress("\n".join(lines).encode()))
    return (url, (None, str(local)) if _ONLINE else (str(local),))


intersphinx_mapping = {
    "python": _inventory("python", "Python", "https://docs.python.org/3/"),
    "numpy": _inventory("numpy", "NumPy", "https://numpy.org/doc/stable/"),
    "scipy": _inventory("scipy", "SciPy", "https://docs.scipy.org/doc/scipy/"),
    "sklearn": _inventory(
        "sklearn", "scikit-learn", "https://scikit-learn.org/stable/"
    ),
    "dask": _inventory("dask", "Dask", "https://docs.dask.org/en/stable/"),
    "skops": _inventory("skops", "skops", "https://skops.readthedocs.io/en/stable/"),
    "skl2onnx": _inventory("skl2onnx", "skl2onnx", "https://onnx.ai/sklearn-onnx/"),
}
intersphinx_timeout = 10

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skbackprop {release}"
html_theme_options = {
    "navbar_end": ["theme-switcher"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {
    "index": [],
    "install": [],
    "benchmarks": [],
    "architecture": [],
    "changelog": [],
}
html_show_sourcelink = True

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Every plot_*.py is executed; other scripts in examples/ (such as the
    # README's main job, train_digits.py) are not part of the gallery.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(^|/)(?!plot_)[^/]*\.py$",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("skbackprop",),
    "backreferences_dir": "generated/backreferences",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "promote_jupyter_magic": False,
    "download_all_examples": False,
    # The timing pages (sg_execution_times) load jQuery and DataTables from
    # CDNs; each example's page states its own running time instead.
    "write_computation_times": False,
}


# -- Checks that keep the docs from rotting ------------------------------------
def _check_api_listing(app):
    """Warn (an error under -W) if a public name is missing from api.rst."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    text = (HERE / "api.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s{3,}(\w+)\s*$", text, flags=re.MULTILINE))
    missing = sorted(set(skbackprop.__all__) - listed - {"__version__"})
    for name in missing:
        logger.warning(
            f"skbackprop.{name} is in skbackprop.__all__ but not in docs/api.rst."
        )


def setup(app):
    app.connect("builder-inited", _check_api_listing)
