"""Shared helpers: run the real `fxcheck` CLI in a subprocess and read its JSON report."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

# Every run the tests start (CLI runs, DDP ranks, the scripts' own DataLoader workers) computes on one
# thread: two xdist workers, each with two ranks of torch's default thread pool, oversubscribe the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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
    trace: Path | None = None  # the trace it saved (`--save`), where the run was asked to save one

    @property
    def findings(self) -> list[dict]:
        return (self.report or {}).get("findings", [])

    def rules(self, severities=("error", "warning")) -> set[str]:
        return {f["rule"] for f in self.findings if f["severity"] in severities}

    def check(self, rule_id: str) -> dict:
        return next(c for c in self.report["checks"] if c["rule"] == rule_id)


def fxcheck(*args: str, cwd: Path | None = None, timeout: int = 240,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`fxcheck ARGS` through the real command line, in a process of its own: forked from this test
    process's fork server (torch already imported), or, with `env`, a fresh interpreter."""
    if env is None:
        with _SERVER_LOCK:  # one job at a time on this process's server
            code, stdout, stderr = _own_server().run(list(args), _scratch() / f"run{next(_RUNS)}", timeout,
                                                     cwd or ROOT)
        return subprocess.CompletedProcess(list(args), code, stdout, stderr)
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="160", **env)
    return subprocess.run([sys.executable, "-m", "fxcheck", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


_RUNS = itertools.count()
_SERVER_LOCK = threading.Lock()
_SERVER: list["_ForkServer"] = []
_SCRATCH: list[Path] = []


def _own_server() -> "_ForkServer":
    """This test process's fork server, started at its first use and ended with the process."""
    if not _SERVER:
        _SERVER.append(_ForkServer())
    return _SERVER[0]


def _scratch() -> Path:
    if not _SCRATCH:
        import tempfile

        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="fxcheck-runs-")))
    return _SCRATCH[0]


def pytest_unconfigure(config):
    import shutil

    for server in _SERVER:
        server.close()
    for folder in _SCRATCH:
        shutil.rmtree(folder, ignore_errors=True)


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


# A parent that has imported torch, Dynamo and fxcheck once, and forks a child per traced script: each
# child runs fxcheck's real command line (`fxcheck.cli.main`, what `python -m fxcheck` calls) in a
# process of its own, without paying the ~3.5 s of imports that every fresh interpreter pays.
_FORK_SERVER = r"""
import importlib, json, os, signal, sys
import torch, torch._dynamo
import fxcheck.cli, fxcheck.capture
# one throw-away compile imports the parts of Dynamo its first compile loads (a third of a second, paid
# once here rather than in every child); reset() leaves the children a Dynamo that has compiled nothing
torch.compile(lambda x: x + 1, backend=lambda gm, example: gm.forward, dynamic=False)(torch.ones(2))
torch._dynamo.reset()
for name in sys.argv[1:]:  # the frameworks the scripts of this server import, imported once
    importlib.import_module(name)
reply = os.fdopen(os.dup(1), "w")
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the script's stdin is empty, never this server's jobs
        for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
        signal.alarm(job["timeout"])
        os.chdir(job["cwd"])  # what a script writes relative to its directory goes there, not into the checkout
        sys.argv = ["fxcheck", *job["args"]]
        try:
            fxcheck.cli.main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    reply.write(json.dumps(os.waitstatus_to_exitcode(status)) + "\n")
    reply.flush()
"""

_POOL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # one thread per run: side by side, not fighting


# What the sample and corpus scripts import besides torch: imported by their servers before any fork. The
# framework tests (test_frameworks.py) run through servers without them: there fxcheck sees the script
# import its framework during the run.
_FRAMEWORKS = ("lightning.pytorch", "pytorch_lightning", "transformers.trainer", "accelerate.accelerator")


class _ForkServer:
    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", COLUMNS="160", **_POOL_ENV)
        self.proc = subprocess.Popen([sys.executable, "-c", _FORK_SERVER, *preload], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, args: list[str], out: Path, timeout: int = 240, cwd: Path | None = None) -> tuple[int, str, str]:
        stdout, stderr = out.with_suffix(".out"), out.with_suffix(".err")
        if cwd is None:
            cwd = out.with_suffix(".cwd")
            cwd.mkdir(exist_ok=True)
        job = {"args": args, "stdout": str(stdout), "stderr": str(stderr), "timeout": timeout, "cwd": str(cwd)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        code = json.loads(self.proc.stdout.readline())
        return code, stdout.read_text(), stderr.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _trace_once(servers: "queue.Queue[_ForkServer]", script: Path, out: Path) -> CliRun:
    report_path = out / f"{script.parent.name}-{script.stem}.json"
    server = servers.get()
    try:
        code, stdout, stderr = server.run(["trace", str(script), "--json", str(report_path), "--save",
                                           str(report_path.with_suffix(".trace"))], report_path)
    finally:
        servers.put(server)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return CliRun(code, stdout, stderr, report, report_path.with_suffix(".trace"))


@pytest.fixture(scope="session")
def forked_cli(tmp_path_factory):
    """`fxcheck ARGS` run by the real CLI in a child forked from a process that has imported torch once:
    `forked_cli(*args, cwd=ROOT)` returns what `fxcheck(...)` does, without the interpreter's start-up."""
    out = tmp_path_factory.mktemp("forked")
    server, count = _ForkServer(), itertools.count()

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        code, stdout, stderr = server.run(list(args), out / f"run{next(count)}", cwd=cwd or ROOT)
        return subprocess.CompletedProcess(list(args), code, stdout, stderr)

    yield run
    server.close()


@pytest.fixture(scope="session")
def traced(tmp_path_factory):
    """Every sample and corpus script traced once with the default limits by the real CLI.

    The runs start together when a test first asks for one and go on in the background, a few
    processes at a time, while other tests run; `traced(path)` waits for that script's run."""
    out = tmp_path_factory.mktemp("traces")
    scripts = sorted(CORPUS.glob("*.py")) + sorted(SAMPLES.glob("*.py"))
    workers = max(2, min(4, os.cpu_count() or 1))
    servers: queue.Queue[_ForkServer] = queue.Queue()
    for _ in range(workers):
        servers.put(_ForkServer(_FRAMEWORKS))
    pool = ThreadPoolExecutor(max_workers=workers)
    runs = {p: pool.submit(_trace_once, servers, p, out) for p in scripts}
    yield lambda script: runs[Path(script)].result()
    pool.shutdown(wait=True, cancel_futures=True)
    while not servers.empty():
        servers.get().close()


def expectations(path: Path) -> list[tuple[str, int]]:
    """Inline expectations of a sample: (rule, line) for each `# expect: FXnnn` comment."""
    out = []
    for lineno, text in enumerate(path.read_text().splitlines(), start=1):
        out.extend((m.group(1), lineno) for m in EXPECT.finditer(text))
    return out

