"""The recorder: numbers events in happens-before order, names objects, decides when to stop."""

from __future__ import annotations

import inspect
import os
import sys
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from fxcheck import events as ev
from fxcheck.events import Event, Site, TrackedObject
from fxcheck.loop import LoopModel


class StopRun(BaseException):
    """Raised into the user's script to end the run at its limits.

    A BaseException, so a user's ``except Exception:`` cannot swallow it.
    """


@dataclass(frozen=True)
class Limits:
    steps: int = 10  # training batches per epoch (or optimizer steps for loops without a training loader)
    epochs: int = 2
    val_steps: int = 2
    graph: bool = True  # capture the model's graph with TorchDynamo (--no-graph: hooks only)
    rank: bool = False  # a rank of a distributed run: checksums of the stepped parameters after some steps (FX505)


class Recorder:
    """Collects events and tracked objects; every hook reports here."""

    def __init__(self, limits: Limits, is_user_file: Callable[[str], bool]) -> None:
        self.limits = limits
        self.is_user_file = is_user_file
        self.events: list[Event] = []
        self.objects: dict[str, TrackedObject] = {}
        self._keys: dict[int, str] = {}  # id(obj) -> key, dropped when the object dies
        self._counts: dict[str, int] = {}
        self._display: dict[str, str] = {}  # file name -> how the report shows it
        self.backward_count = 0
        self.step_calls: dict[str, int] = {}  # optimizer key -> step calls (scaler-skipped included)
        self.loop = LoopModel()  # fed every event: what the loop is, for the cut
        self.between_cycles: Callable[[], None] = lambda: None  # looks for hand-written updates (set by the hooks)
        self.stop_reason: str | None = None
        # while a framework drives the loop: the user's line that called it (`trainer.fit(...)`), and the
        # latest forward inside the user's hooks (training_step, compute_loss) that its events are put at
        self.framework_entry: Site | None = None
        self._hook_site: Site | None = None

    def enter_framework(self, entered: bool) -> None:
        """A framework began (or ended) driving the loop from the user's current line."""
        self.framework_entry = self.site() if entered else None
        self._hook_site = None

    def _in_hooks(self, kind: str, site: Site) -> Site:
        """Under a framework, an event the framework itself made (a backward of the loss training_step
        returned, a step) is put at the latest forward the user's hooks ran, not at `trainer.fit`."""
        entry = self.framework_entry
        if entry is None or kind in (ev.LOADER_PASS, ev.LOADER_BATCH, ev.LOADER_END):
            return site
        if (site.file, site.line) != (entry.file, entry.line):
            if kind == ev.MODEL_FORWARD:
                self._hook_site = site
            return site
        return self._hook_site or site

    # -- sites and objects ---------------------------------------------------------------------
    def site(self) -> Site:
        """The innermost frame of the user's script on the current stack."""
        frame = self.user_frame()
        if frame is None:
            return Site()
        return Site(self._show(frame.f_code.co_filename), frame.f_lineno, frame.f_code.co_name)

    def user_frame(self) -> Any:
        frame: Any = sys._getframe(2)
        is_user = self.is_user_file
        while frame is not None:
            if is_user(frame.f_code.co_filename):
                return frame
            frame = frame.f_back
        return None

    def loop_frame(self) -> Any:
        """The user's frame that consumes batches: past the user's generators that wrap a loader
        (a prefetching wrapper iterates the DataLoader; the loop that takes its batches holds the numbers)."""
        frame = self.user_frame()
        while (frame is not None and frame.f_code.co_flags & inspect.CO_GENERATOR and frame.f_back is not None
               and self.is_user_file(frame.f_back.f_code.co_filename)):
            frame = frame.f_back
        return frame

    def _show(self, filename: str) -> str:
        shown = self._display.get(filename)
        if shown is None:
            shown = os.path.relpath(filename) if not os.path.relpath(filename).startswith("..") else filename
            self._display[filename] = shown
        return shown

    def key_of(self, obj: Any) -> str | None:
        return self._keys.get(id(obj))

    def register(self, obj: Any, type_: str, attrs: dict[str, Any] | None = None) -> str:
        """Name a newly seen object ("optimizer#1") and record where it was created."""
        existing = self._keys.get(id(obj))
        if existing is not None:
            return existing
        n = self._counts.get(type_, 0) + 1
        self._counts[type_] = n
        key = f"{type_}#{n}"
        self._keys[id(obj)] = key
        try:
            weakref.finalize(obj, self._keys.pop, id(obj), None)
        except TypeError:  # not weak-referenceable: keep the name for the run
            pass
        site = self.site()
        self.objects[key] = TrackedObject(key, type_, type(obj).__name__, site, dict(attrs or {}))
        self.emit(ev.OBJECT_CREATED, key, site)
        return key

    def emit(self, kind: str, obj: str | None = None, site: Site | None = None, **data: Any) -> Event:
        event = Event(len(self.events), kind, self._in_hooks(kind, site if site is not None else self.site()), obj, data)
        self.events.append(event)
        self.loop.feed(event)
        return event

    # -- stopping ------------------------------------------------------------------------------
    def check_stopped(self) -> None:
        """Once the run is over, every further hooked call ends it again (a bare except can't keep it going)."""
        if self.stop_reason is not None:
            raise StopRun(self.stop_reason)

    def stop(self, reason: str) -> None:
        self.stop_reason = reason
        raise StopRun(reason)

    def at_cycle_start(self) -> None:
        """A batch is asked for, a pass or a backward begins: stop once epoch E+1 has run its first
        optimizer step (so the boundary is seen), here, between cycles, never inside a step."""
        self.check_stopped()
        self.between_cycles()
        loop = self.loop
        if loop.epochs_begun() > self.limits.epochs and loop.steps_in_epoch() >= 1:
            self.stop(f"epoch limit reached ({self.limits.epochs} epochs, and the first optimizer step of the next "
                      f"to see across the boundary)")

    def on_backward(self) -> None:
        """A backward is about to run: in a loop without a training loader, stop after N steps."""
        self.at_cycle_start()
        if not self.loop.training_lineage and self.step_calls and max(self.step_calls.values()) >= self.limits.steps:
            self.stop(f"step limit reached ({self.limits.steps} optimizer steps or updates in all: a loop without a training "
                      f"DataLoader is cut by --steps)")
