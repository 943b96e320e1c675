"""`fxcheck diff` through the real CLI: identical runs, a one-cycle bug, events that differ without a
changed verdict, and input that is not a trace."""

from __future__ import annotations

import json

import pytest

from conftest import SCRIPTS, fxcheck

SCRIPT = SCRIPTS / "clip_order.py"


pytestmark = pytest.mark.xdist_group("diff")  # one worker traces the four variants once


@pytest.fixture(scope="module")
def traces(tmp_path_factory, forked_cli):
    """clip_order.py traced twice as written, once clipping before unscale_ at step 3, once clearing twice at step 2."""
    tmp = tmp_path_factory.mktemp("diff")
    variants = {"clean": [], "clean_again": [], "buggy": ["--clip-before-unscale", "3"], "extra": ["--zero-grad-twice", "2"]}
    paths = {}
    for name, args in variants.items():
        paths[name] = tmp / f"{name}.json"
        proc = forked_cli("trace", str(SCRIPT), "--steps", "4", "--save", str(paths[name]), "-q", "--", *args)
        assert paths[name].exists(), proc.stderr
    return paths


def test_same_script_traced_twice_has_no_difference(traces):
    proc = fxcheck("diff", str(traces["clean"]), str(traces["clean_again"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no difference" in proc.stdout
    assert "First differing cycle" not in proc.stdout


def test_bug_in_one_cycle_names_the_cycle_and_the_rule(traces):
    proc = fxcheck("diff", str(traces["clean"]), str(traces["buggy"]))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "First differing cycle: optimizer#1 cycle 3 (epoch 1, step 3)" in out
    assert "1 of 10 cycles of optimizer#1 differ" in out  # 2 epochs x 4, and the first steps of epoch 3
    # the clip moved before scaler.unscale_: gone after it, new before it
    assert "+ clip optimizer#1" in out and "- clip optimizer#1" in out
    assert out.index("+ clip optimizer#1") < out.index("scaler.unscale_ scaler#1 optimizer#1") < out.index("- clip optimizer#1")
    assert "FX104 clip-scaled-gradients (error): ✅ pass → ❌ fail" in out
    assert "+ tests/scripts/clip_order.py:" in out and "epoch 1, step 3" in out
    assert "1 rule changed verdict" in out


def test_fixed_bug_shows_the_finding_that_disappeared(traces):
    proc = fxcheck("diff", str(traces["buggy"]), str(traces["clean"]))
    assert proc.returncode == 1
    assert "FX104 clip-scaled-gradients (error): ❌ fail → ✅ pass" in proc.stdout
    assert "- tests/scripts/clip_order.py:" in proc.stdout


def test_other_events_without_a_changed_verdict_exit_0_and_say_so(traces):
    proc = fxcheck("diff", str(traces["clean"]), str(traces["extra"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "First differing cycle: optimizer#1 cycle 2" in proc.stdout
    assert "+ grad.clear optimizer#1" in proc.stdout
    assert "the event sequences differ, but no rule changed its verdict" in proc.stdout


def test_input_that_is_not_a_trace_is_bad_input(traces, tmp_path):
    other = tmp_path / "report.json"
    other.write_text('{"fxcheck": "0.1.0", "findings": []}')
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": "fxcheck-trace", "version": 99, "events": []}))
    for bad, message in ((other, "not an fxcheck trace"), (future, "format version 99"),
                         (tmp_path / "missing.json", "cannot read")):
        proc = fxcheck("diff", str(traces["clean"]), str(bad))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
    proc = fxcheck("diff", str(other), str(traces["clean"]))
    assert proc.returncode == 2 and "not an fxcheck trace" in proc.stderr


def _graph(*kinds_and_objects: tuple[str, str | None]):
    from fxcheck import graph
    from fxcheck.events import Event, Site

    events = [Event(i, kind, Site("train.py", 10 + i, "main"), obj, {}) for i, (kind, obj) in enumerate(kinds_and_objects)]
    return graph.build(graph.Trace({"script": "train.py", "status": "crashed"}, [], events))


def test_runs_without_a_common_optimizer_compare_their_whole_event_sequences():
    from fxcheck.diff import compare

    a = _graph(("object.created", "model#1"), ("module.mode", "model#1"), ("backward", None))
    b = _graph(("object.created", "model#1"), ("backward", None))
    d = compare(a, b)
    assert d.first_cycle is not None and d.first_cycle.optimizer is None
    assert [(c.side, c.event["kind"]) for c in d.first_cycle.changes] == [("-", "module.mode")]
    assert not d.sequences_equal and d.status_changes == []
    assert compare(a, a).sequences_equal


def test_an_unscale_inside_scaler_step_is_not_the_scripts_own():
    from fxcheck.diff import signature

    own = {"kind": "scaler.unscale_", "obj": "scaler#1", "data": {"optimizer": "optimizer#1"}}
    inside = {"kind": "scaler.unscale_", "obj": "scaler#1", "data": {"optimizer": "optimizer#1", "internal": True}}
    assert signature(own) == "scaler.unscale_ scaler#1 optimizer#1"
    assert signature(inside) == "scaler.unscale_ scaler#1 optimizer#1 (inside scaler.step)"
    clip = {"kind": "clip", "obj": None, "data": {"optimizers": ["optimizer#1", "optimizer#2"]}}
    assert signature(clip) == "clip optimizer#1 optimizer#2"
