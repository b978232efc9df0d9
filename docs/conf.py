"""Sphinx configuration for the anonlink-client documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html``. The tutorial
notebooks are rendered with the outputs they were saved with (the test suite
executes them separately with nbmake), and the published JSON Schemas are
copied next to the pages as ``schemas/*.json`` when the build finishes.
"""

import json
import pkgutil
import shutil
import sys
from pathlib import Path
from typing import Any, Optional

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

from anonlinkclient import __version__  # noqa: E402

project = "anonlink-client"
author = "anonlink-client developers"
copyright = "anonlink-client developers, Apache License 2.0"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinx_click",
    "myst_nb",
]

# The notebooks carry the outputs of a real run; tests execute them with nbmake.
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True

# IPython's lexer cannot tokenise a shell escape continued with a backslash
# ("!anonlink upload \\ ..."), which the tutorials use for long commands; Sphinx
# then highlights those cells in relaxed mode, which is fine.
suppress_warnings = ["misc.highlighting_failure"]

source_suffix = {".rst": "restructuredtext", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "tutorial/data", "tutorial/*.json", "tutorial/*.csv"]
root_doc = "index"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = f"anonlink-client {release}"
html_static_path: list = []

# JSON Schemas published with the site: clkhash's linkage schemas (the files
# clkhash validates against, taken from the installed package rather than
# copied into this repository) and this project's schemas/ directory.
LINKAGE_SCHEMA_FILES = {"v1.json", "v2.json", "v3.json"}


def publish_schemas(app: Any, exception: Optional[Exception]) -> None:
    """Write the JSON Schemas into ``<outdir>/schemas/`` once an HTML build succeeded."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "schemas"
    target.mkdir(exist_ok=True)
    for name in sorted(LINKAGE_SCHEMA_FILES):
        data = pkgutil.get_data("clkhash", f"schemas/{name}")
        if data is None:
            raise RuntimeError(f"clkhash ships no schemas/{name}")
        json.loads(data)  # fail loudly rather than publish something broken
        (target / name).write_bytes(data)
    for path in sorted((ROOT / "schemas").glob("*.json")):
        shutil.copyfile(path, target / path.name)


def setup(app: Any) -> None:
    """Register the schema publishing step."""
    app.connect("build-finished", publish_schemas)
