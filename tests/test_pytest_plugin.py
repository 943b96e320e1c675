"""The Python API and the pytest plugin: fxcheck_run in a user's suite, its entry point, the README's example."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys

import pytest

import fxcheck
from conftest import ROOT, SAMPLES, SCRIPTS

pytest_plugins = ["pytester"]

CLEAN = SAMPLES / "clean_grad_none.py"
BUGGY = SAMPLES / "fx104_clip_scaled_gradients.py"  # FX104 at line 67
CRASH = SCRIPTS / "crash.py"  # ValueError in the second epoch


def bugs_line(path) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "# expect: FX104" in text)


# -- the API, in this process ----------------------------------------------------------------------


def test_import_fxcheck_and_the_plugin_load_neither_torch_nor_networkx():
    code = ("import sys, fxcheck, fxcheck.pytest_plugin; fxcheck.run; fxcheck.Result; "
            "print(sorted(m for m in ('torch', 'networkx', 'typer') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
    assert "run" in dir(fxcheck)
    with pytest.raises(AttributeError):
        fxcheck.no_such_name  # noqa: B018


def test_run_returns_findings_checks_report_and_trace(tmp_path):
    result = fxcheck.run(BUGGY.name, steps=3, out_dir=tmp_path, cwd=SAMPLES)  # the script runs in SAMPLES
    assert result.exit_code == 1 and not result.ok and not result.crashed
    assert [(f.rule, f.severity, f.file, f.line) for f in result.findings] == [
        ("FX104", "error", BUGGY.name, bugs_line(BUGGY))]
    assert result.check("FX104").status == "fail" and result.check("FX101").status == "pass"
    assert result.report["observed"]["optimizer_steps"] == 7  # 2 epochs x 3, and the first step of epoch 3
    assert result.console_report.startswith(f"fxcheck {fxcheck.__version__} · ")
    assert "Summary: 1 error(s)" in result.console_report
    assert result.stdout.startswith("epoch 1/3")  # the script's own output comes first
    assert json.loads(result.trace_path.read_text())["format"] == "fxcheck-trace"
    assert result.trace_path.parent == tmp_path

    with pytest.raises(fxcheck.FxcheckFailed) as failed:
        fxcheck.assert_clean(result)
    message = str(failed.value)
    assert f"FX104 clip-scaled-gradients (error) at {BUGGY.name}:{bugs_line(BUGGY)}" in message
    assert "fix: call scaler.unscale_(optimizer) before clipping" in message
    assert f"fxcheck check {result.trace_path}" in message
    assert failed.value.result is result
    fxcheck.assert_clean(result, ignore=("fx104",))
    result.assert_clean(fail_on=("info",))


def test_a_crashing_script_gives_exit_code_3_and_its_traceback(tmp_path):
    result = fxcheck.run(CRASH, steps=8, out_dir=tmp_path)
    assert result.exit_code == 3 and result.crashed and result.status == "crashed"
    assert result.traceback.endswith("ValueError: corrupt record in shard 7")
    with pytest.raises(AssertionError) as failed:
        result.assert_clean()
    message = str(failed.value)
    assert "the script crashed (exit code 3)" in message
    assert 'crash.py", line 9, in load_batch' in message
    assert "ValueError: corrupt record in shard 7" in message


def test_bad_input_raises_usage_error(tmp_path):
    with pytest.raises(fxcheck.UsageError, match="no such file: missing.py"):
        fxcheck.run("missing.py", cwd=tmp_path)
    with pytest.raises(fxcheck.UsageError, match="steps must be a positive integer"):
        fxcheck.run(CLEAN, steps=0)
    with pytest.raises(fxcheck.UsageError, match="epochs must be a positive integer"):
        fxcheck.run(CLEAN, epochs="2")
    with pytest.raises(fxcheck.UsageError, match="not a file"):
        fxcheck.run(tmp_path)
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\n\ndef main(:\n    pass\n")
    with pytest.raises(fxcheck.UsageError, match=r"broken.py:3: SyntaxError"):
        fxcheck.run(broken, out_dir=tmp_path)  # judged by the CLI itself: exit code 2


# -- the plugin, in a user's suite -----------------------------------------------------------------


@pytest.fixture
def project(pytester):
    """A fresh project folder holding a clean and a buggy training script."""
    shutil.copy(CLEAN, pytester.path / "train_clean.py")
    shutil.copy(BUGGY, pytester.path / "train_amp.py")
    shutil.copy(CRASH, pytester.path / "train_crash.py")
    return pytester


def test_fxcheck_run_passes_a_clean_script_and_fails_a_buggy_one_with_rule_and_place(project):
    project.makepyfile(test_training="""
        def test_clean_loop(fxcheck_run, tmp_path):
            result = fxcheck_run("train_clean.py")
            result.assert_clean()
            assert result.report["run"]["limits"]["steps"] == 3  # from --fxcheck-steps
            assert result.trace_path.parent.parent == tmp_path  # traces go under the test's tmp_path

        def test_amp_loop(fxcheck_run):
            fxcheck_run("train_amp.py").assert_clean()
    """)
    result = project.runpytest_subprocess("--fxcheck-steps", "3")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "fxcheck: --steps 3",
        "*FxcheckFailed: fxcheck: train_amp.py: 1 finding(s)*",
        f"*FX104 clip-scaled-gradients (error) at train_amp.py:{bugs_line(BUGGY)} · epoch 1, step 1",
        "*fix: call scaler.unscale_(optimizer) before clipping",
        "FAILED test_training.py::test_amp_loop - fxcheck.api.FxcheckFailed: *",
    ])
    assert "fxcheck/api.py" not in result.stdout.str()  # the failure points at the user's test line


def test_marker_ignore_crash_and_bad_input_in_a_users_suite(project):
    project.makepyfile(test_more="""
        import pytest
        import fxcheck

        @pytest.mark.fxcheck(steps=2, epochs=1)
        def test_marker_sets_limits(fxcheck_run):
            result = fxcheck_run("train_amp.py")
            limits = result.report["run"]["limits"]
            assert (limits["steps"], limits["epochs"], limits["val_steps"]) == (2, 1, 2)
            result.assert_clean(ignore=["FX104"])

        def test_crash(fxcheck_run):
            fxcheck_run("train_crash.py").assert_clean()

        def test_bad_input(fxcheck_run):
            with pytest.raises(fxcheck.UsageError, match="no such file: nope.py"):
                fxcheck_run("nope.py")

        @pytest.mark.fxcheck(step=3)
        def test_misspelt_marker(fxcheck_run):
            pass
    """)
    project.makeini("[pytest]\nfxcheck_steps = 8\n")  # the crash comes at batch 4 of epoch 2
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "fxcheck: --steps 8",
        "*@pytest.mark.fxcheck takes only keywords steps, epochs, val_steps, timeout*",
        "*fxcheck: train_crash.py: 0 finding(s), and the script crashed (exit code 3)*",
        "*train_crash.py\", line 9, in load_batch",
        "*ValueError: corrupt record in shard 7",
    ])


def test_bad_option_value_is_a_usage_error(pytester):
    result = pytester.runpytest_subprocess("--fxcheck-epochs", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fxcheck-epochs: must be positive, got '0'*"])


def test_plugin_is_found_through_its_entry_point(pytester):
    (entry,) = importlib.metadata.entry_points(group="pytest11", name="fxcheck")
    assert entry.value == "fxcheck.pytest_plugin"
    pytester.makepyfile(test_fixture="def test_it(fxcheck_run):\n    assert callable(fxcheck_run)\n")
    result = pytester.runpytest_subprocess("--trace-config")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*fxcheck*fxcheck/pytest_plugin.py*"])
    disabled = pytester.runpytest_subprocess("-p", "no:fxcheck")
    disabled.assert_outcomes(errors=1)
    disabled.stdout.fnmatch_lines(["*fixture 'fxcheck_run' not found*"])


# -- the README's example, as a user would copy it -------------------------------------------------


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_pytest_example_passes_in_a_fresh_project(pytester):
    section = readme_section("Use it from pytest")
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        name = re.match(r"# (\S+\.py)\n", block)
        if name:
            files[name.group(1)] = block
    assert {"train.py", "test_train.py"} <= set(files), sorted(files)
    for name, source in files.items():
        (pytester.path / name).write_text(source, encoding="utf-8")
    commands = [line.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.strip().startswith("pytest ")]
    assert commands, "no `pytest ...` command in the section"
    for command in commands:
        args = shlex.split(command.split("#")[0])[1:]
        result = pytester.runpytest_subprocess(*args)
        assert result.ret == 0, result.stdout.str()
        assert result.parseoutcomes().get("passed", 0) >= 1
