"""Runs the user's script like `python script.py` would, under capture, within --steps/--epochs."""

from __future__ import annotations

import _thread
import builtins
import importlib
import importlib.machinery
import importlib.util
import os
import signal
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from fxcheck import __version__
from fxcheck.capture import Capture, Limits, StopRun
from fxcheck.capture.recorder import Recorder
from fxcheck.distributed.follow import Following
from fxcheck.graph import Trace

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# What the script left when the run ended (its __main__ module, the exception that ended it, whose frames
# hold its locals), kept until the process exits. Freed right at the cut, a DDP model's Reducer destroys
# its gloo process group with the GIL held, while the group's worker thread may be finishing an all-reduce
# and waiting for the GIL to release a Python object: both wait for ever. A plain run frees them only at
# exit, long after the last all-reduce; so does a traced one.
_KEPT: list[object] = []


def keep(*objects: object) -> None:
    """Keep what the script's run left alive until the process exits (see _KEPT)."""
    _KEPT.extend(objects)


class BadInput(Exception):
    """The script can't be run at all (missing, not Python, syntax error): exit code 2."""


class Stopped(BaseException):
    """SIGINT, SIGTERM or the --timeout stopped the script: raised where its main thread was."""

    def __init__(self, signum: int, timed_out: bool) -> None:
        super().__init__(signum)
        self.signum, self.timed_out = signum, timed_out


class Stops:
    """SIGINT and SIGTERM stop the script where it is, so that what was observed is still reported; once
    one came, another ends the process at once. The --timeout stops it the same way. Processes the script
    forks (DataLoader workers, ranks) keep the default action; a handler the script installs replaces these."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, timeout: float | None, real_exit: Callable[[int], None]) -> None:
        self.timeout, self.real_exit = timeout, real_exit
        self.signum: int | None = None
        self.timed_out = False
        self._pid = os.getpid()
        self._previous: dict[int, object] = {}
        self._timer: threading.Timer | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers belong to the main thread (fxcheck run from a thread: none)
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        if self.timeout is not None:
            self._timer = threading.Timer(self.timeout, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        self.timed_out = True
        _thread.interrupt_main(signal.SIGTERM)  # the handler runs in the main thread, where the script is

    def _handle(self, signum: int, frame: object) -> None:
        if os.getpid() != self._pid:  # a forked child: the action it would have had
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if self.signum is not None:
            self.real_exit(128 + signum)
        self.signum = signum
        raise Stopped(signum, self.timed_out)

    def script_ended(self) -> None:
        """The script is over: the timer stops; a run a signal stopped keeps the handler until the report is
        written (a second signal ends it at once), any other gets the handlers it had back."""
        if self._timer is not None:
            self._timer.cancel()
        if self.signum is None or self.timed_out:
            self.uninstall()

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous.clear()


@dataclass
class RunOutcome:
    trace: Trace
    status: str  # "completed" | "stopped" | "crashed"
    reason: str
    user_traceback: str | None  # the user's exception, as Python would print it
    seconds: float
    ranks: dict[int, str | None] | None = None  # traces of the ranks the script spawned (None: never handed over)
    signal: int | None = None  # the signal that stopped the run (SIGINT, SIGTERM)
    timed_out: bool = False  # the --timeout stopped it


def compile_script(path: str) -> types.CodeType:
    p = Path(path)
    if not p.exists():
        raise BadInput(f"no such file: {path}")
    if not p.is_file():
        raise BadInput(f"not a file: {path}")
    if p.suffix not in (".py", ".pyw"):
        raise BadInput(f"not a Python file (expected a .py script): {path}")
    try:
        source = p.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        return compile(source, str(p.resolve()), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise BadInput(f"{path}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    except ValueError as exc:  # e.g. source with null bytes
        raise BadInput(f"not a Python file: {path} ({exc})") from None


def find_module(name: str) -> importlib.machinery.ModuleSpec:
    """The spec of the module `python -m NAME` would run, found from the current directory as python does
    (a package runs its __main__); importing its parent packages is the only code of the script that runs."""
    where = os.getcwd()
    added = where not in sys.path
    if added:
        sys.path.insert(0, where)
    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            main = f"{name}.__main__"
            spec = importlib.util.find_spec(main)
            if spec is None:
                raise BadInput(f"-m {name}: {name} is a package without a __main__ module and cannot be run")
    except BadInput:
        raise
    except (ImportError, ValueError) as exc:
        raise BadInput(f"-m {name}: {exc}") from None
    except Exception as exc:  # the package's own __init__ raised: that is not a module fxcheck can run
        raise BadInput(f"-m {name}: importing its package raised {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(where)
    if spec is None:
        raise BadInput(f"-m {name}: no module named {name!r} (searched from {where})")
    if not spec.has_location or not isinstance(spec.origin, str) or not spec.origin.endswith((".py", ".pyw")):
        raise BadInput(f"-m {name}: {spec.origin or 'it'} is not a Python source module")
    return spec


def run(path: str, args: list[str], limits: Limits,
        on_start: Callable[[Recorder], None] | None = None,
        on_hard_exit: Callable[[RunOutcome], int] | None = None, timeout: float | None = None,
        module: str | None = None) -> RunOutcome:
    """Run the script under capture (with ``module``, the module `python -m MODULE` runs; ``path`` is
    then ignored). Raises BadInput before anything of the script ran.

    ``on_start`` is given the recorder just before the script starts (a progress display reads it).
    ``on_hard_exit`` is given the outcome when the script calls ``os._exit``: the process ends there,
    without unwinding the script, so the report and trace are written first; it returns the exit code.
    """
    spec = find_module(module) if module is not None else None
    if spec is not None:  # the report names the module's file as it names a script
        shown = os.path.relpath(spec.origin)
        path = spec.origin if shown.startswith("..") else shown
    code = compile_script(spec.origin if spec is not None else path)
    # torch imports Dynamo at the first optimizer it builds; importing it here, before the tracer
    # starts, keeps that second of module-level code out of the traced run
    importlib.import_module("torch._dynamo")
    script = str(Path(path).resolve())
    script_dir = os.path.dirname(script)
    capture = Capture([script_dir, os.getcwd()], limits)
    cwd = os.getcwd()  # where the report's relative paths start (SARIF's %SRCROOT%)
    if on_start is not None:
        on_start(capture.recorder)

    main_module = types.ModuleType("__main__")
    main_module.__dict__.update({
        "__file__": script, "__builtins__": builtins, "__cached__": None, "__package__": None,
        "__loader__": importlib.machinery.SourceFileLoader("__main__", script), "__spec__": None,
    })
    if spec is not None:  # as python -m: the module's spec and package, argv[0] its full path, the cwd first
        main_module.__dict__.update({"__spec__": spec, "__package__": spec.parent, "__loader__": spec.loader})
    saved = (sys.argv, list(sys.path), sys.modules.get("__main__"))
    sys.argv = [script if spec is not None else path, *args]
    sys.path[0:1] = [cwd if spec is not None else script_dir]
    sys.modules["__main__"] = main_module

    status, reason, user_tb = "completed", "the script ran to its end", None
    started = time.perf_counter()
    main_pid = os.getpid()
    real_exit = os._exit

    def hard_exit(code: int) -> None:
        if os.getpid() != main_pid or on_hard_exit is None:  # a forked worker or child: theirs to end
            real_exit(code)
        capture.stop()
        os._exit = real_exit
        outcome = _outcome(path, args, limits, capture, cwd, "exited" if code == 0 else "crashed",
                           f"the script called os._exit({code})", None, time.perf_counter() - started)
        sys.argv, sys.path[:] = saved[0], saved[1]
        exit_code = on_hard_exit(outcome)
        sys.stdout.flush()
        sys.stderr.flush()
        real_exit(exit_code)

    os._exit = hard_exit
    stops = Stops(timeout, real_exit)
    ranks = Following([script_dir, os.getcwd()], limits, path, args, capture)
    ranks.install()
    stops.install()
    capture.start()
    try:
        try:
            exec(code, main_module.__dict__)
        finally:
            capture.stop()
            stops.script_ended()
            ranks.uninstall()
            os._exit = real_exit
    except StopRun as exc:
        keep(exc)
    except Stopped as exc:
        keep(exc)
        if exc.timed_out:
            status, reason = "stopped", f"fxcheck stopped the run: the --timeout of {timeout:g} s ran out"
        else:
            status, reason = "interrupted", f"the run was stopped by {signal.Signals(exc.signum).name}"
    except SystemExit as exc:
        keep(exc)
        if exc.code not in (None, 0):
            status, reason = "crashed", f"the script exited with status {exc.code}"
        else:
            reason = f"the script called sys.exit({exc.code if exc.code is not None else ''})"
    except BaseException as exc:  # the user's own error: recorded, reported, and shown to them
        keep(exc)
        status, reason = "crashed", f"the script raised {type(exc).__name__}: {exc}"
        user_tb = format_user_traceback(exc)
    finally:
        keep(main_module)
        sys.argv, sys.path[:], main = saved[0], saved[1], saved[2]
        if main is not None:
            sys.modules["__main__"] = main
    outcome = _outcome(path, args, limits, capture, cwd, status, reason, user_tb, time.perf_counter() - started)
    if module is not None:
        outcome.trace.meta["module"] = module
    outcome.ranks = ranks.gather()  # the ranks the script started, if it did: they are the run
    outcome.timed_out = stops.timed_out
    outcome.signal = None if stops.timed_out else stops.signum
    return outcome


def _outcome(path: str, args: list[str], limits: Limits, capture: Capture, cwd: str, status: str, reason: str,
             user_tb: str | None, seconds: float) -> RunOutcome:
    rec = capture.recorder
    if rec.stop_reason is not None and status == "completed":
        status, reason = "stopped", f"fxcheck stopped the run: {rec.stop_reason}"
    meta = {
        "fxcheck": __version__, "torch": torch.__version__, "python": sys.version.split()[0],
        "tracer": capture.tracer_choice,
        "script": path, "args": list(args), "cwd": cwd,
        "limits": {"steps": limits.steps, "epochs": limits.epochs, "val_steps": limits.val_steps, "graph": limits.graph},
        "status": status, "reason": reason, "seconds": round(seconds, 3),
        # loop heads of the training loop (seen once training began), not of data preparation before it
        "loops": [{"file": rec._show(f), "line": line, "iterations": n}
                  for (f, line), n in sorted((capture.tracer.training_loop_hits or capture.tracer.loop_hits).items())],
    }
    return RunOutcome(Trace(meta, list(rec.objects.values()), list(rec.events)), status, reason, user_tb, seconds)


def format_user_traceback(exc: BaseException) -> str:
    """The traceback as Python prints it, without fxcheck's own frames."""
    te = traceback.TracebackException.from_exception(exc)
    for current in _chain(te):
        current.stack = traceback.StackSummary.from_list(
            [f for f in current.stack if not os.path.abspath(f.filename).startswith(PACKAGE_DIR + os.sep)]
        )
    return "".join(te.format())


def _chain(te: traceback.TracebackException):
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        yield te
        te = te.__cause__ or te.__context__
