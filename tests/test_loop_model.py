"""The loop model through the real CLI: what a pass is, where epochs begin, cuts that keep len() true,
and runs that observed nothing."""

from __future__ import annotations

import json
import math

import pytest

from conftest import SAMPLES, SCRIPTS, fxcheck


def _loop_line(run, prefix: str) -> str:
    return next(line for line in run.stdout.splitlines() if line.strip().startswith(prefix))


def test_prefetching_loader_learns_the_accumulation_and_keeps_len(tmp_path, trace_cli):
    seen_path = tmp_path / "seen.json"
    # 18 batches of 10 per epoch, accumulation 4, cut at 10: len() must stay 10 for the whole pass,
    # also for the last batch, which the prefetcher hands out after the inner loader ran out
    run = trace_cli(SCRIPTS / "prefetch_accumulation.py", "--epochs", "2", "--", "--seen", str(seen_path), "--epochs", "3")
    assert run.code == 0, run.stdout + run.stderr
    seen = json.loads(seen_path.read_text())
    assert [s["lengths"] for s in seen] == [[10], [10]], seen
    assert all(s["batches"] == 10 and s["steps"] == math.ceil(10 / 4) for s in seen), seen
    assert "accumulation 4" in run.report["observed"]["structure"], run.report["observed"]
    assert run.report["run"]["status"] == "stopped"


def test_a_loader_rebuilt_every_epoch_is_cut_by_epochs(trace_cli):
    run = trace_cli(SAMPLES / "clean_fit_rebuilds_loader.py", "--epochs", "2", "--steps", "4")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["run"]["status"] == "stopped"
    observed = run.report["observed"]
    # two whole epochs of 4 steps, then the first step of the third to see across the boundary
    assert observed["optimizer_steps"] == 2 * 4 + 1, observed
    assert "a new training DataLoader built each epoch at" in observed["epochs_by"]
    assert run.check("FX302")["status"] == "pass"


def test_evaluation_that_stops_at_len_is_judged_and_never_becomes_training(trace_cli):
    run = trace_cli(SAMPLES / "clean_val_stops_early.py")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["observed"]["train_batches"] == 10 + 10 + 1
    assert run.report["observed"]["evaluation_phases"] >= 2
    assert run.check("FX303")["status"] == "pass"
    assert "3 training" in _loop_line(run, "loader passes:")


def test_iteration_loop_gets_epochs_from_what_repeats(trace_cli):
    run = trace_cli(SAMPLES / "clean_eval_over_tensor.py")
    assert run.code == 0, run.stdout + run.stderr
    observed = run.report["observed"]
    assert observed["evaluation_phases"] == 1 and "no training DataLoader" in observed["epochs_by"]
    assert run.check("FX302")["status"] == "pass" and run.check("FX304")["status"] == "pass"


def test_nanogpt_style_loop_has_no_epochs_and_is_cut_by_steps(trace_cli):
    run = trace_cli(SAMPLES / "clean_iteration_no_loader.py", "--steps", "6")
    assert run.report["observed"]["optimizer_steps"] == 6
    assert run.report["observed"]["epochs_by"].startswith("none: a loop without epochs")


@pytest.mark.parametrize("script", ["never_trains.py", "early_exit.py"])
def test_a_run_that_observed_nothing_exits_4_and_keeps_its_report(tmp_path, script):
    report, trace = tmp_path / "r.json", tmp_path / "t.json"
    proc = fxcheck("trace", str(SCRIPTS / script), "--json", str(report), "--save", str(trace))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    first = next(line for line in proc.stdout.splitlines() if line.startswith("fxcheck "))
    assert first.startswith("fxcheck observed nothing to check: no optimizer step ran"), proc.stdout
    assert json.loads(report.read_text())["observed"]["optimizer_steps"] == 0
    assert fxcheck("check", str(trace), "-q").returncode == 4
    assert "Traceback" not in proc.stderr


def test_os_exit_still_writes_report_and_trace(tmp_path):
    report, trace = tmp_path / "r.json", tmp_path / "t.json"
    proc = fxcheck("trace", str(SCRIPTS / "hard_exit.py"), "--json", str(report), "--save", str(trace))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the missing zero_grad is an error finding
    assert "training done" in proc.stdout and "FX101" in proc.stdout
    saved = json.loads(report.read_text())
    assert saved["run"]["status"] == "exited" and "os._exit(0)" in saved["run"]["reason"]
    assert {f["rule"] for f in saved["findings"]} == {"FX101"}
    assert fxcheck("check", str(trace), "-q").returncode == 1
    crashed = fxcheck("trace", str(SCRIPTS / "hard_exit.py"), "--json", str(report), "--", "5")
    assert crashed.returncode == 3 and json.loads(report.read_text())["run"]["status"] == "crashed"


def test_batches_taken_with_next_are_never_cut_into_a_crash(trace_cli):
    # 16 training batches taken with next() and no handler: the run ends at the cut instead of raising
    # StopIteration into the script; a first evaluation would run its 3 batches though --val-steps is 2
    run = trace_cli(SCRIPTS / "next_batches.py", "--steps", "10")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["run"]["status"] == "stopped", run.report["run"]
    assert "takes them with next()" in run.report["run"]["reason"]
    assert run.report["observed"]["optimizer_steps"] == 10
    # with the whole epoch allowed, the first validation runs uncut and is judged
    run = trace_cli(SCRIPTS / "next_batches.py", "--steps", "16")
    assert run.report["run"]["status"] == "stopped", run.report["run"]
    assert "passes not cut: 2" in run.stdout  # the validation of each whole epoch
    assert run.check("FX302")["status"] == "pass"
