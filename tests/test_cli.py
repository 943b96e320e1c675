"""The CLI's contract: exit codes, bad input, crashing scripts, saved traces, rules and explain."""

from __future__ import annotations

import json

from conftest import SAMPLES, SCRIPTS, fxcheck


def test_missing_script_is_bad_input(tmp_path):
    proc = fxcheck("trace", str(tmp_path / "nope.py"))
    assert proc.returncode == 2
    assert "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_not_a_python_file_is_bad_input(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    proc = fxcheck("trace", str(notes))
    assert proc.returncode == 2
    assert "not a Python file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_syntax_error_is_bad_input_with_file_and_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\n\ndef main(:\n    pass\n")
    proc = fxcheck("trace", str(broken))
    assert proc.returncode == 2
    assert f"{broken}:3: SyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_option_is_bad_input():
    proc = fxcheck("trace", str(SAMPLES / "clean_grad_none.py"), "--steps", "zero")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    proc = fxcheck("trace", str(SAMPLES / "clean_grad_none.py"), "--steps", "0")
    assert proc.returncode == 2


def test_crashing_script_exits_3_with_its_traceback_partial_report_and_trace(tmp_path):
    saved, report = tmp_path / "trace.json", tmp_path / "report.json"
    proc = fxcheck("trace", str(SCRIPTS / "crash.py"), "--save", str(saved), "--json", str(report))
    assert proc.returncode == 3
    assert "ValueError: corrupt record in shard 7" in proc.stderr
    assert 'crash.py", line' in proc.stderr and "in load_batch" in proc.stderr
    assert "fxcheck/" not in proc.stderr.replace("fxcheck/tests", "")  # no frames of fxcheck itself
    data = json.loads(report.read_text())
    assert data["run"]["status"] == "crashed"
    assert data["observed"]["optimizer_steps"] == 8 + 3  # epoch 1 complete, 3 batches of epoch 2
    assert json.loads(saved.read_text())["format"] == "fxcheck-trace"
    assert "Summary" in proc.stdout


def test_saved_trace_rechecks_identically(tmp_path):
    saved, live, again = tmp_path / "t.json", tmp_path / "live.json", tmp_path / "again.json"
    sample = SAMPLES / "fx104_clip_scaled_gradients.py"
    first = fxcheck("trace", str(sample), "--save", str(saved), "--json", str(live), "-q")
    second = fxcheck("check", str(saved), "--json", str(again), "-q")
    assert first.returncode == second.returncode == 1
    a, b = json.loads(live.read_text()), json.loads(again.read_text())
    assert a["findings"] == b["findings"] and a["checks"] == b["checks"] and a["observed"] == b["observed"]
    assert any(f["rule"] == "FX104" for f in a["findings"])


def test_check_refuses_files_that_are_not_traces(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    proc = fxcheck("check", str(other))
    assert proc.returncode == 2 and "not an fxcheck trace" in proc.stderr
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": "fxcheck-trace", "version": 99, "events": []}))
    proc = fxcheck("check", str(future))
    assert proc.returncode == 2 and "format version 99" in proc.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("\x00\x01 not json")
    proc = fxcheck("check", str(garbage))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_rules_lists_the_catalog_and_explain_documents_a_rule():
    listing = fxcheck("rules")
    assert listing.returncode == 0
    for rule_id in ("FX101", "FX104", "FX109"):
        assert rule_id in listing.stdout
    doc = fxcheck("explain", "fx104")
    assert doc.returncode == 0
    for section in ("What it does", "Why is this bad", "Example", "Use instead", "Known limits"):
        assert section in doc.stdout
    assert "unscale_" in doc.stdout
    unknown = fxcheck("explain", "FX999")
    assert unknown.returncode == 2 and "unknown rule" in unknown.stderr


def test_script_arguments_after_double_dash(tmp_path, trace_cli):
    out = tmp_path / "sem.json"
    run = trace_cli(SCRIPTS / "semantics.py", "--", str(out), "--flag", "x")
    assert run.code == 4, run.stderr  # it never trains: nothing to check
    assert json.loads(out.read_text())["argv"] == [str(out), "--flag", "x"]
