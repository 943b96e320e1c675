"""Shared helpers: run the real `fxcheck` CLI in a subprocess and read its JSON report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SCRIPTS = Path(__file__).resolve().parent / "scripts"
EXPECT = re.compile(r"#\s*expect:\s*(FX\d{3})")


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    report: dict | None

    @property
    def findings(self) -> list[dict]:
        return (self.report or {}).get("findings", [])

    def rules(self, severities=("error", "warning")) -> set[str]:
        return {f["rule"] for f in self.findings if f["severity"] in severities}

    def check(self, rule_id: str) -> dict:
        return next(c for c in self.report["checks"] if c["rule"] == rule_id)


def fxcheck(*args: str, cwd: Path | None = None, timeout: int = 240,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="160", **(env or {}))
    return subprocess.run([sys.executable, "-m", "fxcheck", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def trace_cli(tmp_path):
    """Run `fxcheck trace SCRIPT ... --json` and return the exit code, output and parsed report."""

    def run(script: str | Path, *args: str, cwd: Path | None = None) -> CliRun:
        report_path = tmp_path / f"report-{Path(script).stem}.json"
        proc = fxcheck("trace", str(script), "--json", str(report_path), *args, cwd=cwd)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return CliRun(proc.returncode, proc.stdout, proc.stderr, report)

    return run


CORPUS = Path(__file__).resolve().parent / "corpus"


def _trace_once(script: Path, out: Path) -> CliRun:
    report_path = out / f"{script.parent.name}-{script.stem}.json"
    # one thread per run: the runs go side by side instead of fighting over the cores
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = fxcheck("trace", str(script), "--json", str(report_path), env=env)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return CliRun(proc.returncode, proc.stdout, proc.stderr, report)


@pytest.fixture(scope="session")
def traced(tmp_path_factory):
    """Every sample and corpus script traced once with the default limits by the real CLI.

    The runs start together when a test first asks for one and go on in the background, a few
    processes at a time, while other tests run; `traced(path)` waits for that script's run."""
    out = tmp_path_factory.mktemp("traces")
    scripts = sorted(CORPUS.glob("*.py")) + sorted(SAMPLES.glob("*.py"))
    pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 1)))
    runs = {p: pool.submit(_trace_once, p, out) for p in scripts}
    yield lambda script: runs[Path(script)].result()
    pool.shutdown(wait=True, cancel_futures=True)


def expectations(path: Path) -> list[tuple[str, int]]:
    """Inline expectations of a sample: (rule, line) for each `# expect: FXnnn` comment."""
    out = []
    for lineno, text in enumerate(path.read_text().splitlines(), start=1):
        out.extend((m.group(1), lineno) for m in EXPECT.finditer(text))
    return out
