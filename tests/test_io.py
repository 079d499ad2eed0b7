"""Result tables: round trip, atomic writes, byte-identical Parquet."""

from __future__ import annotations

import numpy as np
import pytest

from spreadsim.errors import DataError
from spreadsim.outputs.io import read_table, write_table


def _table() -> dict[str, np.ndarray]:
    return {
        "seed": np.array([0, 0, 1], dtype=np.int64),
        "category": np.array(["hate_speech", "legal", "hate_speech"], dtype=object),
        "reach": np.array([1.5, np.nan, np.inf]),
        "removed": np.array([True, False, True]),
    }


def test_round_trip_parquet_and_csv(tmp_path):
    write_table(_table(), tmp_path / "t")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.parquet"]  # no temp files
    for path in (tmp_path / "t", tmp_path / "t.parquet", tmp_path / "t.csv"):
        back = read_table(path)
        assert list(back) == ["seed", "category", "reach", "removed"]
        assert back["seed"].tolist() == [0, 0, 1]
        assert back["category"].tolist() == ["hate_speech", "legal", "hate_speech"]
        assert back["reach"][0] == 1.5 and np.isnan(back["reach"][1]) and np.isinf(back["reach"][2])
        assert back["removed"].tolist() == [True, False, True]


def test_same_table_gives_identical_bytes(tmp_path):
    write_table(_table(), tmp_path / "a")
    write_table(_table(), tmp_path / "b")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_overwrite_replaces_whole_file(tmp_path):
    write_table(_table(), tmp_path / "t")
    write_table({"x": np.arange(2)}, tmp_path / "t")
    assert list(read_table(tmp_path / "t")) == ["x"]


def test_ragged_columns_rejected(tmp_path):
    with pytest.raises(ValueError, match="rows"):
        write_table({"a": np.arange(2), "b": np.arange(3)}, tmp_path / "t")
    assert not any(tmp_path.iterdir())


def test_missing_table_is_one_line_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found") as e:
        read_table(tmp_path / "nope")
    assert "\n" not in str(e.value)
