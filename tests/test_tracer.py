"""The loop tracer chains with a tracer that was there first (coverage keeps measuring)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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


def _newer_python():
    """A Python 3.12+ on this machine (it need not have torch: the tracer needs only the standard library)."""
    import glob
    import shutil

    found = [shutil.which(f"python3.{minor}") for minor in range(12, 16)]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")))
    for exe in filter(None, found):
        probe = subprocess.run([exe, "-c", "import sys; print(hasattr(sys, 'monitoring'))"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return exe
    return None


def _backends(python, **env):
    from fxcheck.capture import looptracer

    run = subprocess.run([python, str(SCRIPTS / "tracer_backends.py"), looptracer.__file__,
                          str(SCRIPTS / "tracer_program.py")], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, **env))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _expected_hits():
    """Loop heads by their comment, with the counts the program implies: a loop head runs once per
    iteration and once more to end the loop, and not while the tracer is paused (steps 1 and 2 of each
    epoch, the batch loop's head for step 3 included: it runs before the resume)."""
    lines = {text.split("# ")[-1].split(":")[0]: i
             for i, text in enumerate((SCRIPTS / "tracer_program.py").read_text().splitlines(), 1) if "# " in text}
    training = sorted([[lines["epoch loop"], 4], [lines["batch loop"], 3 * 3], [lines["profiled loop"], 3]])
    return sorted([[lines["data preparation"], 6], *training]), training


def _edits():
    grad, state = (next(i for i, text in enumerate((SCRIPTS / "tracer_program.py").read_text().splitlines(), 1)
                        if text.strip().startswith(start)) for start in ("p.grad = None", "p.state.clear()"))
    seen = [[str(SCRIPTS / "tracer_program.py"), grad], [str(SCRIPTS / "tracer_program.py"), state]]
    return [seen if step in (0, 3) else [None, None] for _ in range(3) for step in range(4)]


def test_the_settrace_tracer_counts_loop_heads_and_hand_edits_outside_its_pauses():
    seen = _backends(sys.executable)
    if sys.version_info < (3, 12):
        assert seen["choice"] == f"sys.settrace (sys.monitoring needs Python 3.12 or newer; this is {seen['python']})"
    everything, training = _expected_hits()
    assert seen["settrace"]["loop_hits"] == everything and seen["settrace"]["training_loop_hits"] == training
    assert seen["settrace"]["edits"] == _edits()
    assert seen["settrace"]["profiler_calls"] == 2 and seen["settrace"]["trace_after_stop"]


def test_the_sys_monitoring_tracer_sees_what_the_settrace_one_sees():
    """Python 3.12+: the sys.monitoring backend is the one chosen, counts the same loop heads and pins the
    same hand edits as sys.settrace on the same program, leaves the program's own tracer alone, and gives
    its tool id back when it stops."""
    python = _newer_python()
    if python is None:
        pytest.skip("no Python 3.12 or newer on this machine")
    seen = _backends(python)
    assert seen["choice"] == "sys.monitoring"
    everything, training = _expected_hits()
    assert seen["monitoring"]["loop_hits"] == everything and seen["monitoring"]["training_loop_hits"] == training
    assert seen["monitoring"]["edits"] == _edits() == seen["settrace"]["edits"]
    assert seen["monitoring"]["profiler_calls"] == 2 and seen["monitoring"]["tool_free_after_stop"]
    assert seen["monitoring"]["trace_after_stop"]
    assert _backends(python, FXCHECK_TRACER="sys.settrace")["choice"] == "sys.settrace (FXCHECK_TRACER=sys.settrace)"


def test_the_report_says_which_line_tracer_ran(trace_cli):
    run = trace_cli(SAMPLES / "clean_grad_none.py", "--steps", "4")
    assert run.code == 0, run.stderr
    expected = "sys.monitoring" if sys.version_info >= (3, 12) else \
        f"sys.settrace (sys.monitoring needs Python 3.12 or newer; this is {sys.version.split()[0]})"
    assert run.report["run"]["tracer"] == expected and f"Line tracer: {expected}" in run.stdout
