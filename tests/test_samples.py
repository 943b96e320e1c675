"""Every sample through the real CLI: buggy ones yield their rule at the marked line, clean ones nothing."""

from __future__ import annotations

import pytest

from conftest import SAMPLES, expectations

BUGGY = sorted(p for p in SAMPLES.glob("fx*.py"))
CLEAN = sorted(p for p in SAMPLES.glob("clean_*.py"))


@pytest.mark.parametrize("sample", BUGGY, ids=lambda p: p.stem)
def test_buggy_sample_yields_its_rule_at_the_marked_line(sample, traced):
    expected = expectations(sample)
    assert expected, f"{sample.name} has no '# expect: FXnnn' comment"
    run = traced(sample)
    assert run.report is not None, run.stderr
    got = {(f["rule"], f["line"]) for f in run.findings}
    for rule_id, line in expected:
        assert (rule_id, line) in got, f"{rule_id} expected at line {line}; got {sorted(got)}\n{run.stdout}"
    # exactly the rules the sample is about, nothing else
    assert run.rules() == {r for r, _ in expected}, run.stdout
    crashed = run.report["run"]["status"] == "crashed"
    errors = any(f["severity"] == "error" for f in run.findings)
    assert run.code == (3 if crashed else 1 if errors else 0), run.stderr


@pytest.mark.parametrize("sample", CLEAN, ids=lambda p: p.stem)
def test_clean_sample_gets_no_error_or_warning(sample, traced):
    run = traced(sample)
    assert run.report is not None, run.stderr
    assert run.code == 0, run.stdout + run.stderr
    assert run.rules() == set(), run.stdout
    observed = run.report["observed"]
    assert observed["optimizer_cycles"] >= 2, observed  # the rules had something to judge (steps or updates by hand)
    assert any(c["status"] == "pass" for c in run.report["checks"])


def test_every_rule_has_a_buggy_sample():
    from fxcheck.rules import all_rules

    covered = {rule_id for p in BUGGY for rule_id, _ in expectations(p)}
    # info rules never fail: FX305's inventory is checked on the LayerNorm and graph-break samples
    registered = {r.id for r in all_rules() if r.severity != "info"}
    assert registered <= covered, sorted(registered - covered)
