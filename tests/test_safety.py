"""No file that spreadsim reads can execute code: no pickle, no eval/exec, no unsafe YAML.

Edge lists and delay CSVs are parsed as text, result tables read with pyarrow, cached traces
loaded with ``allow_pickle=False``. (Configs are different: a ``_target_`` in a config names a
Python callable that Hydra runs, as in any Hydra app, so configs are as trusted as scripts; see
docs/sweeps.md.)
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
FORBIDDEN = [
    (r"^\s*(import pickle|from pickle|import cPickle|import dill|import marshal)", "pickle-like import"),
    (r"\b(pickle|dill|marshal)\.loads?\(", "unpickling"),
    (r"(?<![\w.])(eval|exec)\(", "eval/exec"),
    (r"allow_pickle\s*=\s*True", "numpy pickle loading"),
    (r"yaml\.(load|unsafe_load)\(", "unsafe YAML loading"),
    (r"pd\.read_pickle|read_pickle\(", "pickle reading"),
]


@pytest.mark.parametrize("path", [*sorted(SRC.rglob("*.py")), PLUGIN], ids=lambda p: str(p.relative_to(SRC.parent)))
def test_no_code_execution_from_data(path):
    text = path.read_text()
    for pattern, what in FORBIDDEN:
        hits = [line for line in text.splitlines() if re.search(pattern, line)]
        assert not hits, f"{path.name}: {what}: {hits}"


def test_a_pickle_is_not_a_table(tmp_path):
    import pickle

    f = tmp_path / "runs.parquet"
    f.write_bytes(pickle.dumps({"x": np.arange(3)}))
    with pytest.raises(DataError):
        read_table(tmp_path / "runs")
