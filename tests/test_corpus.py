"""A corpus of realistic scripts written apart from the samples, with an answer key (EXPECTED.json):
each bug_ script yields exactly its rule at its line, each ok_ script no error or warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"
KEY = json.loads((CORPUS / "EXPECTED.json").read_text())


@pytest.mark.parametrize("name", sorted(KEY), ids=lambda n: n.removesuffix(".py"))
def test_corpus_script(name, trace_cli):
    run = trace_cli(CORPUS / name)
    assert run.report is not None, run.stderr
    expected = {(e["rule"], e["line"]) for e in KEY[name]}
    got = {(f["rule"], f["line"]) for f in run.findings if f["severity"] in ("error", "warning")}
    assert got == expected, run.stdout
    assert run.report["observed"]["optimizer_steps"] >= 1


def test_answer_key_covers_every_script_and_all_fx1_rules():
    scripts = {p.name for p in CORPUS.glob("*.py")}
    assert scripts == set(KEY)
    assert {e["rule"] for v in KEY.values() for e in v} >= {f"FX10{i}" for i in range(1, 10)}
