"""sys.settrace loop tracer: line events in the user's own files only, loop heads counted.

Besides loop heads it notes the latest statement that edits a ``.grad`` or an optimizer's
``.state`` by hand, so a change seen only from state can still be pinned to the user's line.

This is the hot path: every Python call of the traced program passes through ``_global``.
It imports nothing beyond the standard library, decides "is this the user's file?" once per
file name, and returns no local tracer for any other frame, so those frames cost one
dictionary lookup at call time and nothing per line.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
import threading
from collections import Counter
from typing import Any, Callable

TraceFn = Callable[[Any, str, Any], Any]


def _excluded_roots() -> tuple[str, ...]:
    """Folders whose files are never the user's: the interpreter, site-packages, fxcheck itself."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            roots.add(path)
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the fxcheck package
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots if r))


LOOP_HEAD = 0  # a `for`/`while` statement
GRAD_EDIT = 1  # a statement that assigns, deletes or zeroes a `.grad` (e.g. `p.grad = None`)
STATE_EDIT = 2  # a statement that replaces or clears an optimizer's `.state`
_GRAD_EDITS = {"zero_", "fill_", "detach_", "mul_", "copy_"}


def _mentions(node: ast.AST, attr: str) -> bool:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr == attr:
            return True
        node = node.value
    return False


def marked_lines(path: str) -> dict[int, int]:
    """Lines of a Python file worth a look when they run: loop heads and hand edits of gradients or state."""
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return {}
    marks: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            marks[node.lineno] = LOOP_HEAD
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            if any(_mentions(t, "grad") for t in targets):
                marks.setdefault(node.lineno, GRAD_EDIT)
            elif any(isinstance(t, ast.Attribute) and t.attr == "state" for t in targets):
                marks.setdefault(node.lineno, STATE_EDIT)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _GRAD_EDITS and _mentions(node.func.value, "grad"):
                marks.setdefault(node.lineno, GRAD_EDIT)
            elif node.func.attr == "clear" and isinstance(node.func.value, ast.Attribute) \
                    and node.func.value.attr == "state":
                marks.setdefault(node.lineno, STATE_EDIT)
    return marks


class LoopTracer:
    """Traces the user's files: counts how often each loop head runs; tells user frames apart."""

    def __init__(self, user_roots: list[str]) -> None:
        self.user_roots = tuple(os.path.realpath(r).rstrip(os.sep) + os.sep for r in user_roots)
        self._excluded = _excluded_roots()
        # file name -> local tracer for user files, None for everything else (the per-file cache)
        self._file_tracer: dict[str, TraceFn | None] = {}
        self.loop_hits: Counter[tuple[str, int]] = Counter()
        # loop heads that ran once training had begun (the first optimizer step or update by hand):
        # the training loop's, not those of data preparation before it
        self.training_loop_hits: Counter[tuple[str, int]] = Counter()
        self.training = [False]  # set by the hooks at the first step
        # the latest hand edit of gradients / optimizer state that ran in the user's files: (file name, line)
        self.last_edit: dict[int, tuple[str, int]] = {}
        self._prev: TraceFn | None = None  # the trace function of the program (coverage, a profiler, pdb)
        self._installed = False
        self._paused = False
        self._settrace, self._gettrace = sys.settrace, sys.gettrace
        self._thread = threading.get_ident()

    # -- deciding which files are the user's -------------------------------------------------
    def is_user_file(self, filename: str) -> bool:
        try:
            return self._file_tracer[filename] is not None
        except KeyError:
            return self._decide(filename) is not None

    def _decide(self, filename: str) -> TraceFn | None:
        tracer: TraceFn | None = None
        if not filename.startswith("<"):
            real = os.path.realpath(filename)
            inside = real.startswith(self.user_roots)
            excluded = any(real.startswith(root) for root in self._excluded)
            vendored = "site-packages" in real or "dist-packages" in real
            if inside and not excluded and not vendored:
                tracer = self._make_local(filename, marked_lines(real))
        self._file_tracer[filename] = tracer
        return tracer

    def _make_local(self, filename: str, marks: dict[int, int]) -> TraceFn:
        hits, training_hits, training = self.loop_hits, self.training_loop_hits, self.training
        edits = self.last_edit
        get = marks.get

        def local(frame: Any, event: str, arg: Any) -> TraceFn:
            if event == "line":
                mark = get(frame.f_lineno)
                if mark is not None:
                    if mark == LOOP_HEAD:
                        hits[(filename, frame.f_lineno)] += 1
                        if training[0]:
                            training_hits[(filename, frame.f_lineno)] += 1
                    else:
                        edits[mark] = (filename, frame.f_lineno)
            return local

        return local

    # -- the global trace function ------------------------------------------------------------
    def _global(self, frame: Any, event: str, arg: Any) -> TraceFn | None:
        filename = frame.f_code.co_filename
        try:
            mine = self._file_tracer[filename]
        except KeyError:
            mine = self._decide(filename)
        prev = self._prev
        if prev is None:
            return mine
        theirs = prev(frame, event, arg)
        if theirs is None:
            return mine
        if mine is None:
            return theirs
        return _chain(mine, theirs)

    def start(self) -> None:
        """Install, chaining with any tracer already there (e.g. coverage) and with any the program
        installs later: its sys.settrace sets the tracer chained after ours, and its sys.gettrace
        returns its own, as if fxcheck were not there."""
        self._settrace, self._gettrace = sys.settrace, sys.gettrace
        self._thread = threading.get_ident()  # the thread traced; the program's other threads are theirs
        self._prev = self._gettrace()
        self._settrace(self._global)
        self._installed = True
        sys.settrace, sys.gettrace = self._program_settrace, self._program_gettrace

    def _program_settrace(self, function: TraceFn | None) -> None:
        if not self._installed or threading.get_ident() != self._thread:
            self._settrace(function)
            return
        self._prev = function
        if function is not None or not self._paused:  # a chained tracer is never paused
            self._paused = False
            self._settrace(self._global)

    def _program_gettrace(self) -> TraceFn | None:
        return self._prev if self._installed and threading.get_ident() == self._thread else self._gettrace()

    def take_edit(self, kind: int) -> tuple[str, int] | None:
        """The latest edit of this kind (GRAD_EDIT, STATE_EDIT) that ran since the last call, if any."""
        return self.last_edit.pop(kind, None)

    def stop(self) -> None:
        if self._installed:
            if sys.settrace == self._program_settrace:
                sys.settrace, sys.gettrace = self._settrace, self._gettrace
            self._settrace(self._prev)
            self._installed = False
            self._paused = False

    # -- windows -------------------------------------------------------------------------------
    # On CPython 3.11 any installed trace function makes every frame run slower, filtered or not.
    # So the tracer runs in windows (the start and end of each epoch, the epoch boundaries) and is
    # paused in between; chained with another tracer (coverage) it never pauses.
    def pause(self) -> None:
        if self._installed and not self._paused and self._prev is None:
            self._settrace(None)
            self._paused = True

    def resume(self) -> None:
        if not (self._installed and self._paused):
            return
        self._settrace(self._global)
        self._paused = False
        # frames of the user's files that began while paused get their local tracer now
        frame: Any = sys._getframe(1)
        while frame is not None:
            if frame.f_trace is None:
                filename = frame.f_code.co_filename
                local = self._file_tracer[filename] if filename in self._file_tracer else self._decide(filename)
                if local is not None:
                    frame.f_trace = local
            frame = frame.f_back

    @property
    def paused(self) -> bool:
        return self._paused


def _chain(mine: TraceFn, theirs: TraceFn) -> TraceFn:
    """A local tracer that feeds both ours and the previously installed tracer's."""
    state = [theirs]

    def chained(frame: Any, event: str, arg: Any) -> TraceFn:
        mine(frame, event, arg)
        if state[0] is not None:
            state[0] = state[0](frame, event, arg)
        return chained

    return chained


class MonitoringLoopTracer(LoopTracer):
    """The same tracer on sys.monitoring (Python 3.12+): a line event only where a marked line of the
    user's files runs. Each code object is looked at once, on its first call; in a user's file it gets
    line events, and each line that is not a loop head or a hand edit is switched off the first time it
    runs. No frame of any other file, and no other line, costs anything after that. It still counts
    only inside the settrace tracer's windows, so both backends report the same loop heads and edits.
    It is independent of sys.settrace: coverage, profilers and debuggers the program installs see what
    they would see without fxcheck."""

    def __init__(self, user_roots: list[str], tool: int) -> None:
        super().__init__(user_roots)
        self._tool = tool
        self._codes: dict[Any, tuple[str, Callable[[int], int | None]]] = {}  # user code -> its file and marks
        self._marks: dict[str, Callable[[int], int | None]] = {}

    def _make_local(self, filename: str, marks: dict[int, int]) -> TraceFn:
        self._marks[filename] = marks.get
        return super()._make_local(filename, marks)

    def _watch(self, code: Any) -> None:
        filename = code.co_filename
        mine = self._file_tracer[filename] if filename in self._file_tracer else self._decide(filename)
        if mine is not None and code not in self._codes:
            self._codes[code] = (filename, self._marks[filename])
            sys.monitoring.set_local_events(self._tool, code, sys.monitoring.events.LINE)

    def _started(self, code: Any, offset: int) -> Any:
        self._watch(code)
        return sys.monitoring.DISABLE  # one look per code object

    def _line(self, code: Any, line: int) -> Any:
        filename, get = self._codes.get(code, (None, _NO_MARKS))
        mark = get(line)
        if mark is None:
            return sys.monitoring.DISABLE  # never a loop head or an edit: this line is not watched again
        if self._paused or threading.get_ident() != self._thread:
            return None
        if mark == LOOP_HEAD:
            self.loop_hits[(filename, line)] += 1
            if self.training[0]:
                self.training_loop_hits[(filename, line)] += 1
        else:
            self.last_edit[mark] = (filename, line)
        return None

    def start(self) -> None:
        mon = sys.monitoring
        self._thread = threading.get_ident()
        mon.use_tool_id(self._tool, "fxcheck")
        mon.register_callback(self._tool, mon.events.PY_START, self._started)
        mon.register_callback(self._tool, mon.events.LINE, self._line)
        mon.set_events(self._tool, mon.events.PY_START)
        frame: Any = sys._getframe(1)
        while frame is not None:  # the user's frames already running (the script's module, when started in it)
            self._watch(frame.f_code)
            frame = frame.f_back
        self._installed = True

    def stop(self) -> None:
        if not self._installed:
            return
        mon = sys.monitoring
        mon.set_events(self._tool, 0)
        for code in self._codes:
            mon.set_local_events(self._tool, code, 0)
        mon.register_callback(self._tool, mon.events.PY_START, None)
        mon.register_callback(self._tool, mon.events.LINE, None)
        mon.free_tool_id(self._tool)
        self._installed = False
        self._paused = False

    # the windows of the settrace tracer: counting stops and starts as there, so both backends see the same
    def pause(self) -> None:
        if self._installed:
            self._paused = True

    def resume(self) -> None:
        self._paused = False


_NO_MARKS: Callable[[int], int | None] = {}.get
SETTRACE, MONITORING = "sys.settrace", "sys.monitoring"
_FREE_TOOLS = (4, 3)  # sys.monitoring's ids that no standard tool claims (0 debugger, 1 coverage, 2 profiler, 5 optimizer)


def make(user_roots: list[str]) -> tuple[LoopTracer, str]:
    """The loop tracer for this interpreter (the one place it is chosen), and what to say of the choice:
    sys.monitoring where Python has it and a tool id is free, else sys.settrace with the reason."""
    if os.environ.get("FXCHECK_TRACER") == SETTRACE:
        return LoopTracer(user_roots), f"{SETTRACE} (FXCHECK_TRACER={SETTRACE})"
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return LoopTracer(user_roots), (f"{SETTRACE} ({MONITORING} needs Python 3.12 or newer; this is "
                                        f"{sys.version.split()[0]})")
    free = next((t for t in _FREE_TOOLS if mon.get_tool(t) is None), None)
    if free is None:
        return LoopTracer(user_roots), f"{SETTRACE} (every {MONITORING} tool id fxcheck could use is taken)"
    return MonitoringLoopTracer(user_roots, free), MONITORING
