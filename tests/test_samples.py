"""Every sample through the real CLI: buggy ones yield their rule at the marked line, clean ones nothing."""

from __future__ import annotations

import re

import pytest

from conftest import CORPUS, SAMPLES, expectations

pytestmark = pytest.mark.xdist_group("traced")  # one pool of traced runs (conftest.traced) serves them all

BUGGY = sorted(p for p in SAMPLES.glob("fx*.py"))
CLEAN = sorted(p for p in SAMPLES.glob("clean_*.py"))
ALL = sorted(SAMPLES.glob("*.py")) + sorted(CORPUS.glob("*.py"))


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

    distributed = sorted((SAMPLES / "distributed").glob("fx*.py"))  # launched by tests/test_distributed.py
    covered = {rule_id for p in BUGGY + distributed for rule_id, _ in expectations(p)}
    # info rules never fail: FX305's inventory is checked on the LayerNorm and graph-break samples
    registered = {r.id for r in all_rules() if r.severity != "info"}
    assert registered <= covered, sorted(registered - covered)


# what each "N/N <things>" in a pass's evidence counts, and the observed total it can never exceed
COUNTED = [("optimizer steps", "optimizer_steps"), ("cycles", "optimizer_cycles"), ("evaluation phases", "evaluation_phases"),
           ("clip calls", "clip_calls"), ("backward passes", "backwards"), ("epochs", "epochs_begun")]
FRACTION = re.compile(r"(\d+)/(\d+) ([a-zA-Z ]+)")


@pytest.mark.parametrize("script", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_pass_is_earned_by_what_the_run_observed(script, traced):
    """A pass's evidence counts only what the trace contains: "N/N" with N > 0, never more than the
    run's own totals; a run that observed no optimizer step has no pass at all."""
    run = traced(script)
    if run.report is None:
        pytest.skip("no report (the corpus and sample tests say why)")
    observed = run.report["observed"]
    passes = [c for c in run.report["checks"] if c["status"] == "pass"]
    if not observed["optimizer_cycles"]:
        assert passes == [], passes
    for c in passes:
        for done, of, what in FRACTION.findall(c["evidence"]):
            assert done == of and int(of) > 0, (c["rule"], c["evidence"])
            for noun, key in COUNTED:
                if what.startswith(noun) or what.startswith(f"accumulation {noun}"):
                    assert int(of) <= observed[key], (c["rule"], c["evidence"], key, observed[key])


@pytest.mark.parametrize("script", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_saved_trace_reads_back_to_the_same_verdicts(script, traced):
    """What `trace --save` writes passes the format's checks on load (events.DATA: every field of every kind
    of event, as the capture writes it), and `check` of it judges exactly as the live run did."""
    from fxcheck import graph, rules

    run = traced(script)
    if run.report is None:
        pytest.skip("no report (the corpus and sample tests say why)")
    trace = graph.load(run.trace)
    assert isinstance(trace, graph.Trace), "a script of one process saves one event stream"
    checks = rules.run_all(graph.build(trace))
    assert {(c.rule.id, c.status) for c in checks} == {(c["rule"], c["status"]) for c in run.report["checks"]}
    assert sorted((f.rule, f.line) for c in checks for f in c.findings) == sorted(
        (f["rule"], f["line"]) for f in run.findings)
