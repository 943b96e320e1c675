"""The Python API: `fxcheck.run(script, ...)` runs `fxcheck trace` on a script and reads back its report.

The script runs in a child process (`python -m fxcheck trace SCRIPT ... --json ... --save ...`),
exactly as the command line runs it, rather than inside the caller's process. Tracing patches
torch (optimizer, scaler, backward, loader hooks), installs a trace function and swaps
`sys.argv`, `sys.path[0]` and `__main__`; the script itself seeds the global RNGs, imports its
own modules, may create a CUDA context, call `sys.exit` or die in native code. In a child
process none of that can leak into a test session or take it down, the exit code and report
are the CLI's own, and the cost is one interpreter start and `import torch` per run.

This module imports only the standard library, so `import fxcheck` stays cheap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from fxcheck.rules import Finding

# The CLI's exit codes (fxcheck.cli defines them; that module imports typer and rich).
EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_SCRIPT_ERROR, EXIT_NOTHING = 0, 1, 2, 3, 4
TRACEBACK_TAIL = 30  # lines of the script's stderr shown when it crashed


class UsageError(ValueError):
    """fxcheck could not run the script at all: missing or non-Python file, syntax error, bad option."""


class FxcheckFailed(AssertionError):
    """Raised by `assert_clean`: the message is the report of the findings (or of the crash)."""

    def __init__(self, message: str, result: "Result") -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class RuleCheck:
    """One rule's verdict on the run, as the JSON report gives it."""

    rule: str
    name: str
    severity: str
    status: str  # "pass" | "fail" | "n/a"
    evidence: str


@dataclass
class Result:
    """What `fxcheck trace` reported on one run of a script."""

    script: str
    args: tuple[str, ...]
    exit_code: int  # 0 clean, 1 error findings, 3 the script raised before the run was complete, 4 nothing to check
    findings: list["Finding"]
    checks: list[RuleCheck]
    report: dict[str, Any]  # the whole JSON report
    stdout: str  # the script's own output, then the console report
    stderr: str  # the script's stderr (its traceback when it crashed)
    json_path: Path
    trace_path: Path | None  # the saved trace, for `fxcheck check TRACE`
    cwd: Path = field(default_factory=Path.cwd)

    @property
    def status(self) -> str:
        """How the run ended: "completed", "stopped" (at fxcheck's limits) or "crashed"."""
        return self.report.get("run", {}).get("status", "")

    @property
    def crashed(self) -> bool:
        return self.exit_code == EXIT_SCRIPT_ERROR

    @property
    def nothing_observed(self) -> bool:
        """No optimizer step ran (exit code 4): nothing was checked, so the run is not clean."""
        return self.exit_code == EXIT_NOTHING

    @property
    def ok(self) -> bool:
        """The CLI's verdict: no error finding and no crash."""
        return self.exit_code == EXIT_OK

    @property
    def console_report(self) -> str:
        """The console report fxcheck printed after the script's own output."""
        header = f"fxcheck {self.report.get('fxcheck')} · "
        at = self.stdout.rfind("\n" + header)
        if at >= 0:
            return self.stdout[at + 1:]
        return self.stdout if self.stdout.startswith(header) else ""

    @property
    def traceback(self) -> str:
        """The tail of the script's stderr: its traceback when it crashed."""
        return "\n".join(self.stderr.rstrip().splitlines()[-TRACEBACK_TAIL:])

    def rules(self, severities: Iterable[str] = ("error", "warning")) -> set[str]:
        """IDs of the rules with findings of these severities."""
        wanted = set(severities)
        return {f.rule for f in self.findings if f.severity in wanted}

    def check(self, rule_id: str) -> RuleCheck:
        for c in self.checks:
            if c.rule == rule_id.upper():
                return c
        raise KeyError(f"no check {rule_id!r} in this report")

    def problems(self, ignore: Iterable[str] = (), fail_on: Iterable[str] = ("error", "warning")) -> list["Finding"]:
        """The findings that make the run unclean: of a failing severity, not ignored."""
        ignored = {i.upper() for i in ignore}
        severities = set(fail_on)
        return [f for f in self.findings if f.severity in severities and f.rule not in ignored]

    def assert_clean(self, ignore: Iterable[str] = (), fail_on: Iterable[str] = ("error", "warning")) -> None:
        """Fail (FxcheckFailed, an AssertionError) when the script crashed or has findings.

        `ignore`: rule IDs not to fail on; `fail_on`: the severities that fail ("info" never does
        by default; pass ("error",) to judge like the CLI's exit code).
        """
        __tracebackhide__ = True
        problems = self.problems(ignore, fail_on)
        if problems or self.crashed or self.nothing_observed:
            raise FxcheckFailed(self.explain(problems), self)

    def explain(self, findings: Sequence["Finding"] | None = None) -> str:
        """The report of a failed assertion: the run, each finding with its place, a crash's traceback."""
        findings = self.findings if findings is None else findings
        run = self.report.get("run", {})
        observed = self.report.get("observed", {})
        lines = [f"fxcheck: {self.script}: {len(findings)} finding(s)"
                 + (", and the script crashed (exit code 3)" if self.crashed else "")
                 + (", and no optimizer step ran: nothing was checked (exit code 4)" if self.nothing_observed else "")
                 + f" · observed {observed.get('structure', '')} · {run.get('reason')}"]
        for f in findings:
            place = f"{f.file}:{f.line}" if f.file else "<unknown place>"
            at = ", ".join(f"{k} {v}" for k, v in (("epoch", f.epoch), ("step", f.step)) if v is not None)
            lines.append(f"{f.rule} {f.name} ({f.severity}) at {place}" + (f" · {at}" if at else ""))
            lines.append(f"    {f.message}")
            if f.hint:
                lines.append(f"    fix: {f.hint}")
        if self.crashed:
            lines.append("the script's traceback (last lines of its stderr):")
            lines.extend("    " + line for line in self.traceback.splitlines())
        if self.trace_path is not None:
            lines.append(f"trace: {self.trace_path} (re-check with `fxcheck check {self.trace_path}`)")
        return "\n".join(lines)


def assert_clean(result: Result, ignore: Iterable[str] = (), fail_on: Iterable[str] = ("error", "warning")) -> None:
    """`result.assert_clean(...)` as a function."""
    __tracebackhide__ = True
    result.assert_clean(ignore=ignore, fail_on=fail_on)


def run(script: str | os.PathLike[str], *args: str, steps: int = 10, epochs: int = 2, val_steps: int = 2,
        out_dir: str | os.PathLike[str] | None = None, save_trace: bool = True,
        cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None, python: str | None = None) -> Result:
    """Run `fxcheck trace SCRIPT --steps N --epochs E -- ARGS` in a child process and read its report.

    `args` go to the script. The JSON report and the trace are written to `out_dir` (default: a
    new temporary folder, kept so the trace can be re-checked). `cwd` is the folder the script
    runs in (default: the current one); a relative `script` is found from there. `env` adds to
    the environment. Returns the Result for exit codes 0, 1, 3 and 4; raises UsageError for bad
    input (exit code 2), TimeoutError past `timeout` seconds, RuntimeError when fxcheck itself
    failed without writing a report.
    """
    for name, value in (("steps", steps), ("epochs", epochs), ("val_steps", val_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    workdir = Path(cwd) if cwd is not None else Path.cwd()
    if not workdir.is_dir():
        raise UsageError(f"cwd is not a folder: {workdir}")
    script = os.fspath(script)
    target = workdir / script
    if not target.exists():
        raise UsageError(f"no such file: {script}" + ("" if Path(script).is_absolute() else f" (looked in {workdir})"))
    if not target.is_file():
        raise UsageError(f"not a file: {script}")
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="fxcheck-"))
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(script).stem
    json_path = (out / f"{stem}.report.json").resolve()
    trace_path = (out / f"{stem}.trace.json").resolve() if save_trace else None
    json_path.unlink(missing_ok=True)

    cmd = [python or sys.executable, "-m", "fxcheck", "trace", script, "--steps", str(steps), "--epochs", str(epochs),
           "--val-steps", str(val_steps), "--json", str(json_path)]
    if trace_path is not None:
        cmd += ["--save", str(trace_path)]
    if args:
        cmd += ["--", *map(str, args)]
    # output is captured, not shown on a terminal: a wide console keeps rich from wrapping the
    # script's traceback and the report's lines at 80 columns
    child_env = {**os.environ, "COLUMNS": "240", **(env or {})}
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=child_env, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"fxcheck trace {script} did not finish within {timeout} s") from None

    if proc.returncode == EXIT_BAD_INPUT:
        message = " ".join(proc.stderr.split()) or f"fxcheck trace {script}: bad input"
        raise UsageError(message.removeprefix("fxcheck: error: "))
    if proc.returncode not in (EXIT_OK, EXIT_FINDINGS, EXIT_SCRIPT_ERROR, EXIT_NOTHING) or not json_path.exists():
        tail = "\n".join(proc.stderr.rstrip().splitlines()[-TRACEBACK_TAIL:])
        raise RuntimeError(f"fxcheck trace {script} ended with exit code {proc.returncode} and wrote no report:\n{tail}")
    return _result(script, args, proc, json_path, trace_path, workdir)


def _result(script: str, args: Sequence[str], proc: subprocess.CompletedProcess, json_path: Path,
            trace_path: Path | None, workdir: Path) -> Result:
    from fxcheck.rules import Finding  # networkx, not torch: only once there is a report to read

    report = json.loads(json_path.read_text(encoding="utf-8"))
    known = {f.name for f in fields(Finding)}
    findings = [Finding(**{k: v for k, v in f.items() if k in known}) for f in report.get("findings", [])]
    checks = [RuleCheck(c["rule"], c["name"], c["severity"], c["status"], c["evidence"]) for c in report.get("checks", [])]
    saved = trace_path if trace_path is not None and trace_path.exists() else None
    return Result(script, tuple(map(str, args)), proc.returncode, findings, checks, report, proc.stdout, proc.stderr,
                  json_path, saved, workdir)
