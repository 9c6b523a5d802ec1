"""Sphinx configuration: numpydoc API reference, MyST user guide, sphinx-gallery examples."""

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SKLSTM_DATA", str(ROOT.parent / "shared" / "data"))

import sklstm  # noqa: E402

project = "sklstm"
author = "the sklstm developers"
copyright = "2026, the sklstm developers"
release = version = sklstm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py.md5"]
myst_heading_anchors = 3

templates_path = ["_templates"]
autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
# Every public object has a docstring with its parameters and returns described.
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "PR07", "RT03"}
numpydoc_validation_exclude = {r"\.__init__$", r"\.set_\w+_request$", r"\.forward$"}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "show_memory": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklstm {release}"
html_theme_options = {"navigation_with_keys": False}

nitpicky = False
suppress_warnings = ["config.cache"]
warnings.filterwarnings(
    "ignore", category=UserWarning, message="Matplotlib is currently using agg"
)


def _skip_generated_request_methods(app, what, name, obj, skip, options):
    # scikit-learn generates set_fit_request & co. on every estimator; their
    # docstrings point into scikit-learn's own documentation.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if name == "extra_repr":  # torch's printing hook
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_generated_request_methods)
