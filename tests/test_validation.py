"""`spreadsim validate`: every theory check at the quick size passes, and the table is complete."""

from __future__ import annotations

import pytest

from spreadsim.runs.validation import CHECKS, Check, format_table, main, run_checks


def test_quick_validation_passes():
    rows = run_checks("quick")
    failed = [r for r in rows if not r.passed]
    assert not failed, format_table(failed)
    names = " ".join(r.check for r in rows)
    for word in ("Galton-Watson", "Borel", "transmissibility", "Hawkes", "power-law", "SIR",
                 "M/M/c", "deadline identity", "monotone"):
        assert word in names


def test_a_wrong_expectation_fails():
    # the pass rule is |z| <= 3: a measured value 4 standard errors off fails
    assert not Check("x", "", 1.0, 1.4, 0.1).passed
    assert Check("x", "", 1.0, 1.29, 0.1).passed
    assert not Check("x", "", 0, 1, 0.0, exact=True).passed


def test_main_exit_code_and_table(capsys):
    assert main(["--only", "mmc"]) == 0
    out = capsys.readouterr().out
    assert "Erlang C" in out and "1 passed, 0 failed" in out


def test_unknown_check_rejected():
    with pytest.raises(SystemExit):
        main(["--only", "nosuch"])
    assert set(CHECKS) >= {"sir", "mmc", "deadline"}


def test_cli_validate_subcommand():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "validate", "--only", "deadline"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "deadline identity" in res.stdout and "2 passed, 0 failed" in res.stdout
