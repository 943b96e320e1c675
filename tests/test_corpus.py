"""A corpus of realistic scripts written apart from the samples, with answer keys (EXPECTED*.json):
each bug script yields exactly its rule at its line, each ok script no error or warning, and no
script crashes under fxcheck unless it crashes under plain python (`"crashed"`: the error's text). An
entry `{"exit": 4, "findings": []}` is a script that never trains: fxcheck must say it observed nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fxcheck.cli import EXIT_NOTHING

pytestmark = pytest.mark.xdist_group("traced")  # one pool of traced runs (conftest.traced) serves them all

CORPUS = Path(__file__).resolve().parent / "corpus"
KEY = {name: expected for key in sorted(CORPUS.glob("EXPECTED*.json")) for name, expected in json.loads(key.read_text()).items()}


def _entry(expected: list | dict) -> dict:
    """An answer-key entry as a dict: findings, and optionally the exit code and the script's own crash."""
    return expected if isinstance(expected, dict) else {"findings": expected}


@pytest.mark.parametrize("name", sorted(KEY), ids=lambda n: n.removesuffix(".py"))
def test_corpus_script(name, traced):
    run = traced(CORPUS / name)
    assert run.report is not None, run.stderr
    entry = _entry(KEY[name])
    expected = {(e["rule"], e["line"]) for e in entry["findings"]}
    got = {(f["rule"], f["line"]) for f in run.findings if f["severity"] in ("error", "warning")}
    assert got == expected, run.stdout
    status = run.report["run"]
    if "crashed" in entry:  # the bug crashes the script under plain python too
        assert status["status"] == "crashed" and entry["crashed"] in status["reason"], status
    else:
        assert status["status"] != "crashed", status
    if entry.get("exit") == EXIT_NOTHING:
        assert run.code == EXIT_NOTHING, run.stdout
        assert run.report["observed"]["optimizer_cycles"] == 0
    else:
        assert run.report["observed"]["optimizer_cycles"] >= 1  # optimizer steps or updates by hand


def test_answer_keys_cover_every_script_and_every_rule():
    from fxcheck.rules import all_rules

    scripts = {p.name for p in CORPUS.glob("*.py")}
    assert scripts == set(KEY)
    launched = json.loads((CORPUS / "distributed" / "EXPECTED.json").read_text())  # tests/test_distributed.py
    assert {p.name for p in (CORPUS / "distributed").glob("*.py")} == set(launched)
    rules = {e["rule"] for v in [*KEY.values(), *launched.values()] for e in _entry(v)["findings"]}
    assert rules >= {r.id for r in all_rules() if r.severity != "info"}
