"""The loop tracer chains with a tracer that was there first (coverage keeps measuring)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import SAMPLES, SCRIPTS


def test_coverage_still_measures_the_script_under_fxcheck(tmp_path):
    script = SAMPLES / "clean_grad_none.py"
    data, report = tmp_path / ".coverage", tmp_path / "cov.json"
    env = dict(os.environ, COVERAGE_FILE=str(data))
    run = subprocess.run([sys.executable, "-m", "coverage", "run", f"--include={script}", "-m", "fxcheck", "trace",
                          str(script), "-q"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    subprocess.run([sys.executable, "-m", "coverage", "json", "-o", str(report)], env=env, check=True, cwd=tmp_path)
    executed = set(json.loads(report.read_text())["files"][str(script)]["executed_lines"])
    source = script.read_text().splitlines()
    inside_loop = [i for i, text in enumerate(source, 1) if text.strip().endswith("p.grad = None")]
    assert inside_loop and set(inside_loop) <= executed  # a line that only runs inside the training loop


def test_previous_tracer_gets_events_and_is_restored(tmp_path):
    from fxcheck import runner
    from fxcheck.capture import Limits

    script = tmp_path / "tiny.py"
    script.write_text("def f(x):\n    return x + 1\n\nfor i in range(3):\n    f(i)\n")
    seen = []

    def theirs(frame, event, arg):
        if frame.f_code.co_filename == str(script):
            seen.append((event, frame.f_lineno))
        return theirs

    sys.settrace(theirs)
    try:
        outcome = runner.run(str(script), [], Limits())
        after = sys.gettrace()
    finally:
        sys.settrace(None)
    assert outcome.status == "completed"
    assert after is theirs
    assert ("line", 2) in seen and seen.count(("call", 1)) == 3


def test_loop_summary_lists_the_training_loop_not_data_preparation(trace_cli):
    run = trace_cli(SCRIPTS / "data_prep_loops.py")
    text = run.stdout.replace("\n", " ")  # the line may wrap
    heads = text[text.index("Loop heads"):text.index("Order of operations")]
    assert "data_prep_loops.py:14" in heads and "data_prep_loops.py:15" in heads, heads
    assert "data_prep_loops.py:7 " not in heads, heads  # the tokenizer's loop ran before training


def test_a_tracer_the_script_installs_keeps_working_chained_with_fxcheck(trace_cli, tmp_path):
    """sys.settrace after the first batch (a profiler, a debugger) and threading.settrace for a thread the
    script starts: both see what they would see without fxcheck, and fxcheck still follows the loop."""
    run = trace_cli(SCRIPTS / "own_tracer.py", "--steps", "10", "--save", str(tmp_path / "t.json"))
    assert run.code == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("step ")]
    steps = len(lines)
    assert steps >= 20  # two epochs of ten batches (fxcheck pauses its tracer inside them), and the cut
    # installed before step 2: it saw every train_step call from there on, and their lines (5 each)
    assert lines[-1] == (f"step {steps}: gettrace is mine True, train_step traced {steps - 1}, "
                         f"lines {5 * (steps - 1)}, thread traced 1"), lines[-1]
    assert run.report["observed"]["epochs"] >= 2
    loops = json.loads((tmp_path / "t.json").read_text())["meta"]["loops"]
    assert any(loop["iterations"] >= steps for loop in loops), loops  # fxcheck's tracer still counts loop heads
