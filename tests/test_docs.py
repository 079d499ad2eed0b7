"""The docs site builds with warnings as errors, the tutorial notebook executed.

``mkdocs build --strict`` runs docs/hooks.py, which generates the configuration reference, the
output glossary and the experiments page from the code and executes docs/tutorial.ipynb with
nbclient (a failing cell fails the build). The checks below read the built pages: the notebook's
outputs are there, and the generated pages name every policy, graph kind and glossary entry.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from spreadsim.outputs.glossary import GLOSSARY
from spreadsim.schema.graphs import GRAPH_KINDS
from spreadsim.schema.policies import POLICY_PARAMS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "SPREADSIM_DOCS_EXECUTE": "1", "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    return out


def _page(site: Path, name: str) -> str:
    return html.unescape((site / name / "index.html").read_text())


def test_the_tutorial_ran_and_shows_its_outputs(site):
    nb = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.get("outputs") for c in code), "commit the notebook without outputs"
    page = _page(site, "tutorial")
    assert "karate club: 34 users, 156 arcs" in page  # the edge list loaded
    assert "prevented_share_ci_high" in page  # the sweep's summary table
    assert "keeping mean reach per post <= 5" in page  # the calibrated SLA, printed
    assert page.count("data:image/png;base64,") == 2  # both plots
    assert (site / "tutorial.ipynb").is_file()  # downloadable


def test_generated_pages_cover_the_code(site):
    config = _page(site, "reference/config")
    for name in POLICY_PARAMS:
        assert f"policy/{name}.yaml" in config, name
    for kind in GRAPH_KINDS:
        assert f"graph/{kind}.yaml" in config, kind
    glossary = _page(site, "reference/glossary")
    for c in GLOSSARY:
        assert c.name in glossary, c.name
    experiments = _page(site, "experiments")
    for f in (ROOT / "conf" / "experiment").glob("*.yaml"):
        assert f"spreadsim experiment={f.stem}" in experiments, f.stem


def test_every_public_name_is_in_the_api_reference(site):
    """Each name of ``spreadsim.__all__`` is documented (by the module that defines it)."""
    import spreadsim

    api = _page(site, "reference/api")
    for name in spreadsim.__all__:
        if name == "__version__":
            continue
        obj = getattr(spreadsim, name)
        assert f'id="{obj.__module__}.{name}"' in api, f"docs/reference/api.md: add {name}"
