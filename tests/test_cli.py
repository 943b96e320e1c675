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


def test_outputs_are_checked_before_the_script_runs_and_nothing_of_the_users_is_overwritten(tmp_path, forked_cli):
    """--json/--sarif/--save that cannot be written, that would replace the script or a file fxcheck did not
    write, or that name one file twice: exit 2 with one line, and the script never ran."""
    script = tmp_path / "train.py"
    source = "open('ran', 'w').write('yes')\n"
    script.write_text(source)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}')
    (tmp_path / "a_file").write_text("x")
    cases = {
        ("--save", str(script)): "is an input of this command",
        ("--json", str(notes)): "is not a file fxcheck wrote",
        ("--json", str(tmp_path)): "is a folder",
        ("--sarif", str(tmp_path / "a_file" / "out.sarif")): "not a folder",
        ("--json", str(tmp_path / "missing" / "r.json")): "folder does not exist",
        ("--save", "/proc/fxcheck-trace.json"): "cannot write in /proc",
        ("--json", str(tmp_path / "r.json"), "--save", str(tmp_path / "r.json")): "is also another output",
    }
    for args, message in cases.items():
        proc = forked_cli("trace", str(script), *args, cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "ran").exists() and script.read_text() == source and notes.read_text() == '{"mine": true}'
    check = forked_cli("check", str(notes), "--json", str(notes))
    assert check.returncode == 2 and "is an input of this command" in check.stderr


def test_relative_outputs_stay_where_fxcheck_started_when_the_script_changes_directory(tmp_path, forked_cli):
    """A script that calls os.chdir still gets --json/--save next to where fxcheck was started; a report
    fxcheck wrote before is replaced."""
    (tmp_path / "elsewhere").mkdir()
    script = tmp_path / "train.py"
    script.write_text((SCRIPTS / "crash.py").read_text().replace(
        "def main():\n", "def main():\n    import os\n    os.chdir('elsewhere')\n").replace("epoch == 1 and i == 3", "False"))
    (tmp_path / "r.json").write_text('{\n  "fxcheck": "0.0.1"\n}\n')  # an earlier report
    proc = forked_cli("trace", str(script), "--json", "r.json", "--save", "t.json", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["run"]["status"] == "stopped"
    assert (tmp_path / "t.json").exists() and not list((tmp_path / "elsewhere").iterdir())


def _stopped(tmp_path, *args: str, signum=None):
    """Trace tests/scripts/endless.py and, once it trains, send it a signal; its exit code and report."""
    import os
    import signal
    import subprocess
    import sys

    report, saved = tmp_path / "r.json", tmp_path / "t.json"
    proc = subprocess.Popen([sys.executable, "-m", "fxcheck", "trace", str(SCRIPTS / "endless.py"), "--json",
                             str(report), "--save", str(saved), "-q", *args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, NO_COLOR="1"))
    if signum is not None:
        assert proc.stdout.readline().strip() in ("training", "inferring")
        proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert report.exists() and saved.exists(), stderr
    return proc.returncode, json.loads(report.read_text()), saved, stderr


def test_sigterm_and_sigint_stop_the_run_with_its_report_and_trace(tmp_path):
    import signal

    for signum, code, name in ((signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")):
        returncode, report, saved, stderr = _stopped(tmp_path, "--steps", "100000", signum=signum)
        assert returncode == code and "Traceback" not in stderr, stderr
        assert report["run"]["status"] == "interrupted" and name in report["run"]["reason"]
        assert report["observed"]["optimizer_steps"] >= 1
        again = fxcheck("check", str(saved), "-q")
        assert again.returncode == 0, again.stderr  # the saved trace of what was observed reads back


def test_timeout_stops_a_run_that_never_ends(tmp_path):
    """An inference loop that never ends: the --timeout stops it, the report says so, exit 5."""
    returncode, report, _, stderr = _stopped(tmp_path, "--timeout", "3", "--", "--infer")
    assert returncode == 5, stderr
    assert report["run"]["status"] == "stopped" and "--timeout of 3 s" in report["run"]["reason"]


def test_the_scripts_traceback_is_shown_verbatim_in_a_ci_log(tmp_path):
    """Piped, with no COLUMNS (a CI log): the user's traceback is byte for byte what python prints, however
    long its lines and whatever they contain, after the lines of fxcheck's own output."""
    import os
    import subprocess
    import sys

    script = tmp_path / "fails_late.py"
    script.write_text(
        "import torch\n"
        "model = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for step in range(3):\n"
        "    opt.zero_grad()\n"
        "    model(torch.ones(4, 2)).sum().backward()\n"
        "    opt.step()\n"
        "    if step == 1:\n"
        "        raise ValueError('[bold]shard[/bold] ' + '/data/shards/part-00007.bin:' * 12 + ' failed its checksum')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path)
    traced = subprocess.run([sys.executable, "-m", "fxcheck", "trace", str(script)], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert plain.returncode == 1 and traced.returncode == 3, traced.stderr
    shown = plain.stderr[plain.stderr.index("Traceback (most recent call last)"):]
    assert len(max(shown.splitlines(), key=len)) > 300
    assert shown in traced.stderr, traced.stderr


def _package(root):
    """A training package with relative imports, run as modules: pkg.train (a script that never clears its
    gradients: FX101) and pkg.tools (a package whose __main__ trains correctly)."""
    pkg = root / "pkg"
    (pkg / "tools").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text(
        "import torch\n"
        "from torch.utils.data import DataLoader, TensorDataset\n\n\n"
        "def loader():\n"
        "    g = torch.Generator().manual_seed(0)\n"
        "    return DataLoader(TensorDataset(torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g)),\n"
        "                      batch_size=8, shuffle=True)\n")
    (pkg / "train.py").write_text(
        "import argparse\nimport sys\n\nimport torch\n\nfrom .data import loader\n\n"
        "parser = argparse.ArgumentParser()\nparser.add_argument('--lr', type=float, default=0.1)\n"
        "args = parser.parse_args()\n"
        "print('argv0', sys.argv[0], 'package', __package__, 'lr', args.lr)\n"
        "model = torch.nn.Linear(4, 1)\nopt = torch.optim.SGD(model.parameters(), lr=args.lr)\n"
        "for epoch in range(3):\n"
        "    for x, y in loader():\n"
        "        torch.nn.functional.mse_loss(model(x), y).backward()\n"
        "        opt.step()\n")
    (pkg / "tools" / "__init__.py").write_text("")
    (pkg / "tools" / "__main__.py").write_text(
        "import torch\n\nfrom ..data import loader\n\n"
        "model = torch.nn.Linear(4, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for epoch in range(3):\n"
        "    for x, y in loader():\n"
        "        opt.zero_grad()\n"
        "        torch.nn.functional.mse_loss(model(x), y).backward()\n"
        "        opt.step()\n")
    return pkg


def test_dash_m_runs_a_module_as_python_does(tmp_path):
    pkg = _package(tmp_path)
    report = tmp_path / "r.json"
    proc = fxcheck("trace", "-m", "pkg.train", "--steps", "3", "--json", str(report), "--", "--lr", "0.2",
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # FX101: found at the module's line
    assert f"argv0 {pkg / 'train.py'} package pkg lr 0.2" in proc.stdout
    data = json.loads(report.read_text())
    assert data["script"] == "pkg/train.py" and data["observed"]["optimizer_steps"] >= 6
    fx101 = [f for f in data["findings"] if f["rule"] == "FX101"]
    assert fx101 and fx101[0]["file"] == "pkg/train.py", data["findings"]
    # python -m pkg.tools runs the package's __main__, whose relative import reaches the parent package
    proc = fxcheck("trace", "-m", "pkg.tools", "--steps", "3", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_dash_m_bad_modules_are_bad_input(tmp_path):
    _package(tmp_path)
    for module, says in (("pkg.nope", "no module named 'pkg.nope'"), ("nopkg.train", "No module named 'nopkg'"),
                         ("pkg", "package without a __main__")):
        proc = fxcheck("trace", "-m", module, cwd=tmp_path)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    proc = fxcheck("trace", cwd=tmp_path)
    assert proc.returncode == 2 and "-m MODULE" in proc.stderr


def test_an_output_that_cannot_be_written_at_the_end_is_one_line_and_exit_2(tmp_path):
    """The --json folder existed when the run began and the script removed it: the report is still shown,
    the trace still saved, and the one output lost is told in one line, exit 2."""
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    gone.mkdir()
    kept.mkdir()
    script = tmp_path / "cleans_up.py"
    script.write_text(
        "import shutil, sys\nimport torch\n"
        "model = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for step in range(3):\n"
        "    opt.zero_grad()\n    model(torch.ones(4, 2)).sum().backward()\n    opt.step()\n"
        "shutil.rmtree(sys.argv[1])\n")
    proc = fxcheck("trace", str(script), "--json", str(gone / "r.json"), "--save", str(kept / "t.json"), "--",
                   str(gone))
    assert proc.returncode == 2, proc.stderr
    assert f"could not write --json {gone / 'r.json'}" in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "fxcheck: error" in line]) == 1
    assert "Summary" in proc.stdout and json.loads((kept / "t.json").read_text())["format"] == "fxcheck-trace"


def test_help_shows_names_not_typer_placeholders():
    for command in ("trace", "check", "show", "diff", "explain"):
        proc = fxcheck(command, "--help")
        assert proc.returncode == 0, proc.stderr
        usage = proc.stdout.splitlines()[0]
        assert "{" not in usage and "}" not in usage, usage
        for noise in ("<int range>", "<str>", "<path>", "<int>", "<list[str]>", "<float"):
            assert noise not in proc.stdout, (command, noise, proc.stdout)
    trace_help = fxcheck("trace", "--help").stdout
    assert "[SCRIPT] [SCRIPT_ARGS]..." in trace_help and "-m, --module MODULE" in trace_help
    assert "--steps N" in trace_help and "--json PATH" in trace_help
    arguments = trace_help.split("Arguments:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert arguments[0].startswith("  SCRIPT       The training script"), arguments  # laid out for the names shown


def test_a_piped_report_never_breaks_a_file_and_line(tmp_path):
    """A CI log: stdout piped, no COLUMNS. Findings at a long path keep `path:line` on one line."""
    import os
    import shutil
    import subprocess
    import sys

    deep = tmp_path / "experiments" / "2026-12-04_mixed_precision_accumulation_sweep" / "baseline_configuration"
    deep.mkdir(parents=True)
    script = deep / "train_with_clipping_before_unscale.py"
    shutil.copy(SAMPLES / "fx104_clip_scaled_gradients.py", script)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run([sys.executable, "-m", "fxcheck", "trace", str(script), "--steps", "4"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stderr
    place = f"{script.relative_to(tmp_path)}:"
    assert len(place) > 100
    lines_with_place = [line for line in proc.stdout.splitlines() if place in line]
    assert lines_with_place, proc.stdout  # the whole path and its line number, on one line
    assert any(line.split(place, 1)[1][:1].isdigit() for line in lines_with_place)
    run_line = next(line for line in proc.stdout.splitlines() if line.startswith("Run:"))
    assert "limits: --steps 4" in run_line, proc.stdout[:600]  # a line of text is never wrapped in a log


def test_a_bad_option_value_or_a_missing_argument_is_one_line():
    for args, says in ((["trace", str(SAMPLES / "clean_grad_none.py"), "--steps", "0"], "'--steps'"),
                       (["trace", str(SAMPLES / "clean_grad_none.py"), "--timeout", "-1"], "'--timeout'"),
                       (["diff", str(SAMPLES / "clean_grad_none.py")], "Missing argument 'B'"),
                       (["nosuchcommand"], "No such command 'nosuchcommand'. (`fxcheck --help` lists the commands)"),
                       (["--bogus", "check"], "No such option: --bogus")):
        proc = fxcheck(*args)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("fxcheck: error:"), proc.stderr


def test_no_command_prints_the_help_and_exits_2():
    """`fxcheck` alone is not a run: its help lists the commands, and a CI step that forgot the
    command fails instead of passing."""
    proc = fxcheck()
    assert proc.returncode == 2
    shown = proc.stdout + proc.stderr
    assert shown.startswith("Usage: fxcheck [OPTIONS] COMMAND [ARGS]..."), shown
    for command in ("trace", "check", "show", "diff", "explain", "rules"):
        assert f" {command} " in shown, (command, shown)
    assert "Traceback" not in shown
