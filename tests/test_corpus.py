"""A corpus of realistic scripts written apart from the samples, with answer keys (EXPECTED*.json):
each bug script yields exactly its rule at its line, each ok script no error or warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "corpus"
KEY = {name: expected for key in sorted(CORPUS.glob("EXPECTED*.json")) for name, expected in json.loads(key.read_text()).items()}


@pytest.mark.parametrize("name", sorted(KEY), ids=lambda n: n.removesuffix(".py"))
def test_corpus_script(name, traced):
    run = traced(CORPUS / name)
    assert run.report is not None, run.stderr
    expected = {(e["rule"], e["line"]) for e in KEY[name]}
    got = {(f["rule"], f["line"]) for f in run.findings if f["severity"] in ("error", "warning")}
    assert got == expected, run.stdout
    assert run.report["observed"]["optimizer_steps"] >= 1


def test_answer_keys_cover_every_script_and_every_rule():
    from fxcheck.rules import all_rules

    scripts = {p.name for p in CORPUS.glob("*.py")}
    assert scripts == set(KEY)
    assert {e["rule"] for v in KEY.values() for e in v} >= {r.id for r in all_rules() if r.severity != "info"}
