"""The script runs as `python script.py` would, stops cleanly at the limits, and len() agrees."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import SCRIPTS


def test_script_sees_what_python_would_show_it(tmp_path, trace_cli):
    plain_out, traced_out = tmp_path / "plain.json", tmp_path / "traced.json"
    work = tmp_path / "elsewhere"
    work.mkdir()
    subprocess.run([sys.executable, str(SCRIPTS / "semantics.py"), str(plain_out)], cwd=work, check=True)
    run = trace_cli(SCRIPTS / "semantics.py", "--", str(traced_out), cwd=work)
    assert run.code == 4, run.stderr  # it never trains: nothing to check
    plain, traced = json.loads(plain_out.read_text()), json.loads(traced_out.read_text())
    assert traced.pop("argv") == [str(traced_out)] and plain.pop("argv") == [str(plain_out)]
    assert traced == plain
    assert traced["name"] == "__main__" and traced["cwd"] == str(work)
    assert traced["path0"] == str(SCRIPTS)


def test_stop_is_not_swallowed_and_len_matches_the_cut(tmp_path, trace_cli):
    out = tmp_path / "seen.json"
    run = trace_cli(SCRIPTS / "swallow.py", "--steps", "7", "--epochs", "3", "--", str(out))
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["run"]["status"] == "stopped"
    seen = json.loads(out.read_text())
    # three epochs observed; every one announced 7 batches by len() and iterated exactly 7; then the
    # first step of the fourth, to see across the boundary
    assert [s["epoch"] for s in seen] == [0, 1, 2]
    assert all(s["announced"] == s["iterated"] == 7 for s in seen), seen
    assert run.report["observed"]["epochs"] == 3 and run.report["observed"]["optimizer_steps"] == 22


def test_iteration_loop_without_loader_stops_after_n_steps(trace_cli):
    from conftest import SAMPLES

    run = trace_cli(SAMPLES / "clean_iteration_no_loader.py", "--steps", "6")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["observed"]["optimizer_steps"] == 6
    assert run.report["run"]["status"] == "stopped"


def test_loader_with_worker_processes(trace_cli):
    run = trace_cli(SCRIPTS / "workers.py", "--steps", "5")
    assert run.code == 0, run.stdout + run.stderr
    # 2 epochs of 5 steps, and the first step of the third (observed to see across the boundary)
    assert run.report["observed"]["optimizer_steps"] == 11 and run.report["observed"]["epochs"] == 2
    assert "epoch 0: 5 batches of 5" in run.stderr
