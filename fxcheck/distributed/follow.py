"""Ranks the script starts itself: `torch.multiprocessing.spawn`/`start_processes`, and
`multiprocessing.Process` objects the script starts. Each runs its function under capture in its own
process, cut like one process, and hands its trace to the fxcheck that runs the script.

Processes started by library code (DataLoader workers, the spawn helper's own children) are not
followed as processes; a followed process that never set up a process group nor stepped an optimizer
(a data-preparation helper) is not a rank and is left out of the report.
"""

from __future__ import annotations

import dataclasses
import multiprocessing.process
import os
import sys
import time
from typing import Any, Callable

from fxcheck import distributed
from fxcheck import events as ev
from fxcheck.capture import Capture, Limits, StopRun

HAND_OVER_SECONDS = 10.0  # how long the script's fxcheck waits, after the script ended, for a rank's trace


class _Rank:
    """A rank's function, run under capture in the rank's process."""

    def __init__(self, fn: Callable, roots: list[str], limits: Limits, run_id: str, world: int, path: str,
                 args: list[str]) -> None:
        self.fn, self.roots, self.limits, self.run_id, self.world = fn, roots, limits, run_id, world
        self.path, self.args = path, args

    def _run(self, index: int, call: Callable[[], object]) -> None:
        from fxcheck import graph, runner

        capture = Capture(self.roots, dataclasses.replace(self.limits, rank=True))
        group = _ProcessGroup()
        status, reason, user_tb, raised = "completed", "the rank's function returned", None, None
        started = time.perf_counter()
        group.install()
        capture.start()
        try:
            try:
                call()
            finally:
                capture.stop()
                group.uninstall()
        except StopRun as exc:  # cut: the rank ends here, as its peers do at the same limits
            runner.keep(exc)
        except BaseException as exc:  # the rank's own error: recorded, then raised as the plain run would
            runner.keep(exc)
            status, reason, raised = "crashed", f"rank {group.rank(index)} raised {type(exc).__name__}: {exc}", exc
            user_tb = runner.format_user_traceback(exc)
        outcome = runner._outcome(self.path, self.args, self.limits, capture, os.getcwd(), status, reason, user_tb,
                                  time.perf_counter() - started)
        outcome.trace.meta.update(rank=group.rank(index), process_group=group.seen)
        distributed.hand_over(distributed.Rank(index, self.world, self.run_id, None, None),
                              graph.dumps(outcome.trace))
        if raised is not None:
            raise raised


class SpawnedRank(_Rank):
    """The function the script gave torch.multiprocessing.spawn: called with the rank's index first."""

    def __call__(self, index: int, *fn_args: object) -> None:
        self._run(index, lambda: self.fn(index, *fn_args))


class ProcessRank(_Rank):
    """The target of a multiprocessing.Process the script started (the `index`-th it started)."""

    def __init__(self, *args: Any, index: int, inherited: Capture | None) -> None:
        super().__init__(*args)
        self.index, self.inherited = index, inherited

    def __getstate__(self) -> dict[str, Any]:  # a spawned child gets no copy of the parent's capture
        return dict(self.__dict__, inherited=None)

    def __call__(self, *fn_args: object, **fn_kwargs: object) -> None:
        if self.inherited is not None:  # a forked child runs on a copy of the parent, capture included
            self.inherited.stop()
        self._run(self.index, lambda: self.fn(*fn_args, **fn_kwargs))


class _ProcessGroup:
    """Which rank the process became: told by torch.distributed.init_process_group."""

    def __init__(self) -> None:
        self.seen, self._rank = False, None
        self._original: Any = None

    def install(self) -> None:
        import torch.distributed as dist

        if not dist.is_available():
            return
        self._original = original = dist.init_process_group
        group = self

        def init_process_group(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            group.seen, group._rank = True, dist.get_rank()
            return result

        dist.init_process_group = init_process_group

    def uninstall(self) -> None:
        if self._original is not None:
            import torch.distributed as dist

            dist.init_process_group = self._original

    def rank(self, index: int) -> int:
        return self._rank if self._rank is not None else int(os.environ.get("RANK", index))


class Following:
    """In the fxcheck that runs the script: wraps the functions the script starts processes with, and
    gathers the traces their processes hand over."""

    def __init__(self, roots: list[str], limits: Limits, path: str, args: list[str], capture: Capture) -> None:
        self.roots, self.limits, self.path, self.args, self.capture = roots, limits, path, args, capture
        self.spawns: list[tuple[str, int]] = []  # (run id, nprocs) of each torch.multiprocessing spawn
        self.processes: list[ProcessRank] = []  # targets of the processes the script started
        self._run_id = f"proc-{os.getpid()}-{time.time_ns()}"
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        import torch.multiprocessing as tmp

        module = sys.modules["torch.multiprocessing.spawn"]
        original_spawn = module.start_processes
        following = self

        def start_processes(fn: Callable, args_: tuple = (), nprocs: int = 1, *rest: object, **kwargs: object) -> object:
            run_id = f"spawn-{os.getpid()}-{len(following.spawns)}-{time.time_ns()}"
            following.spawns.append((run_id, nprocs))
            rank = SpawnedRank(fn, following.roots, following.limits, run_id, nprocs, following.path, following.args)
            return original_spawn(rank, args_, nprocs, *rest, **kwargs)

        module.start_processes = tmp.start_processes = start_processes
        self._undo.append(lambda: setattr(module, "start_processes", original_spawn))
        self._undo.append(lambda: setattr(tmp, "start_processes", original_spawn))

        base = multiprocessing.process.BaseProcess
        original_start = base.start

        def start(process: Any) -> None:
            target = getattr(process, "_target", None)
            if target is not None and not isinstance(target, _Rank) and following._from_script():
                process._target = ProcessRank(target, following.roots, following.limits, following._run_id,
                                              0,  # the world size is not known when a process starts
                                              following.path, following.args, index=len(following.processes),
                                              inherited=following.capture)
                following.processes.append(process._target)
            return original_start(process)

        base.start = start
        self._undo.append(lambda: setattr(base, "start", original_start))

    def _from_script(self) -> bool:
        caller = sys._getframe(2)
        return self.capture.tracer.is_user_file(caller.f_code.co_filename)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def gather(self) -> dict[int, str | None] | None:
        """The traces of the ranks the script started (those of its latest spawn, else of the processes it
        started that became ranks), by rank; None when it started none."""
        if self.spawns:
            run_id, nprocs = self.spawns[-1]
            return distributed.gather(distributed.Rank(0, nprocs, run_id, None, None), seconds=HAND_OVER_SECONDS,
                                      ranks=range(nprocs))
        if not self.processes:
            return None
        handed = distributed.gather(distributed.Rank(0, len(self.processes), self._run_id, None, None),
                                    seconds=HAND_OVER_SECONDS, ranks=range(len(self.processes)))
        present: dict[int, str] = {}
        missing = 0
        for index, text in sorted(handed.items()):
            facts = _facts(text)
            if facts is None:
                missing += 1  # handed nothing over: killed or hung; whether it was a rank is unknown
            elif facts["process_group"] or facts["steps"]:
                present[facts["rank"]] = text
        if not present:
            return None
        ranks: dict[int, str | None] = dict(present)
        free = (n for n in range(len(handed)) if n not in present)
        for _ in range(missing):
            ranks[next(free)] = None
        return dict(sorted(ranks.items()))


def _facts(text: str | None) -> dict[str, Any] | None:
    """Of a handed-over trace: its rank, whether it set up a process group, whether it stepped."""
    if text is None:
        return None
    import json

    doc = json.loads(text)
    meta = doc.get("meta") or {}
    steps = any(e.get("kind") == ev.OPTIMIZER_STEP for e in doc.get("events") or [])
    return {"rank": int(meta.get("rank") or 0), "process_group": bool(meta.get("process_group")), "steps": steps}
