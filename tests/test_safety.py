"""No file that spreadsim reads can execute code: no pickle, no eval/exec, no unsafe YAML.

Edge lists and delay CSVs are parsed as text, result tables read with pyarrow, cached traces
loaded with ``allow_pickle=False``. (Configs are different: a ``_target_`` in a config names a
Python callable that Hydra runs, as in any Hydra app, so configs are as trusted as scripts; see
the README.)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import spreadsim
from spreadsim.errors import DataError
from spreadsim.outputs.io import read_table

SRC = Path(spreadsim.__file__).parent
PLUGIN = SRC.parent / "hydra_plugins" / "spreadsim_sweeper" / "__init__.py"
#: the one unpickling allowed: a sweep's joblib worker unpickling the bytes its own main process
#: pickled in memory for it (as joblib does with every job's arguments), never a file
ALLOWED = {(PLUGIN.name, "        state = pickle.loads(shared)"), (PLUGIN.name, "import pickle")}
FORBIDDEN = [
    (r"^\s*(import pickle|from pickle|import cPickle|import dill|import marshal)", "pickle-like import"),
    (r"\b(pickle|dill|marshal)\.loads?\(", "unpickling"),
    (r"(?<![\w.])(eval|exec)\(", "eval/exec"),
    (r"allow_pickle\s*=\s*True", "numpy pickle loading"),
    (r"yaml\.(load|unsafe_load)\(", "unsafe YAML loading"),
    (r"pd\.read_pickle|read_pickle\(", "pickle reading"),
]


@pytest.mark.parametrize("path", [*sorted(SRC.rglob("*.py")), PLUGIN], ids=lambda p: p.name)
def test_no_code_execution_from_data(path):
    text = path.read_text()
    for pattern, what in FORBIDDEN:
        hits = [line for line in text.splitlines()
                if re.search(pattern, line) and (path.name, line) not in ALLOWED]
        assert not hits, f"{path.name}: {what}: {hits}"


def test_the_sweepers_unpickling_is_of_its_own_bytes_only():
    """The allowed lines are there (else the list is stale): the joblib jobs' shared part."""
    lines = PLUGIN.read_text().splitlines()
    assert all(line in lines for name, line in ALLOWED)
    assert sum("pickle.loads(" in line for line in lines) == 1


def test_a_pickle_is_not_a_table(tmp_path):
    import pickle

    f = tmp_path / "runs.parquet"
    f.write_bytes(pickle.dumps({"x": np.arange(3)}))
    with pytest.raises(DataError):
        read_table(tmp_path / "runs")
