"""DataLoader passes: cutting them to --steps / --val-steps, and keeping len() true to the cut.

What a pass is (training, evaluation, neither) and how many backwards make a step is the loop model's
answer (fxcheck.loop), fed by the same events the rules later read. A pass whose role is still
unknown is not cut until it is known. ``len(loader)`` is one value for a whole pass and equals what
the pass yields: once told, a pass's cut is final, and after the pass ran out the lines that asked
during it still get its length (a loader that fetches one batch ahead runs out before the script has
used its last batch).
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler

from fxcheck import events as ev
from fxcheck.capture.consumer import stops_cleanly
from fxcheck.capture.recorder import Recorder
from fxcheck.capture.modes import mode_facts, models_in, recorded_tensors, tensor_ids
from fxcheck.capture.state import accumulators_in, numeric_locals
from fxcheck.events import Event
from fxcheck.loop import EVAL, TRAIN


def default_order(loader: DataLoader, args: tuple, kwargs: dict) -> bool:
    """Was the loader built over a map-style dataset without shuffle, sampler or batch_sampler passed, so
    that it visits the samples in index order (a SequentialSampler nobody asked for)?"""
    given = {name for name, value in zip(_ORDER_ARGS, args[1:]) if value is not None}
    given |= {name for name in _ORDER_ARGS[1:] if kwargs.get(name) is not None}
    return not given & {"shuffle", "sampler", "batch_sampler"} and isinstance(loader.sampler, SequentialSampler) \
        and not isinstance(loader.dataset, IterableDataset)


_ORDER_ARGS = ("batch_size", "shuffle", "sampler", "batch_sampler")  # DataLoader's positions after the dataset


@dataclass
class _Pass:
    loader: "_Loader"
    event: Event  # the loader.pass event; its data is completed as the pass goes on
    cut: int | None  # batches this pass may yield; None until its role is known
    yielded: int = 0
    active: bool = True  # the inner iterator may still yield
    announced: bool = False  # len() has told the script this pass's length: the cut is final
    asked_at: set = field(default_factory=set)  # (file, line) of the len() calls made while it was active
    steps: int = 0  # optimizer steps taken during this pass
    divided: list = field(default_factory=list)  # losses given to backward that were divided (detached)
    tensors: dict = field(default_factory=dict)  # tensor held by each name of the loop's frame at the start
    divisor: float | None = None
    uncut: bool = False  # the cut would have crashed the script: it runs as far as the script asks
    framework: bool = False  # run by a framework that got the cut as its own limits: fxcheck does not cut it


@dataclass
class _Loader:
    key: str
    guess_train: bool  # the role assumed when len() is asked before any pass has told
    promised: int | None = None  # a cut already answered by len() for the next pass
    passes: int = 0
    current: _Pass | None = None


class LoaderTracker:
    """State of every DataLoader of the run, keyed by id."""

    def __init__(self, rec: Recorder, on_progress: Callable[[], None] = lambda: None) -> None:
        self.rec = rec
        self.loop = rec.loop
        self.on_progress = on_progress  # called after each batch, step and pass end
        self.on_model: Callable[[str, Any], None] = lambda key, model: None  # a model seen in a loop's frame
        self._loaders: dict[int, _Loader] = {}
        self._active: list[_Pass] = []
        self._dropped: list[_Pass] = []  # iterators dropped half-way, their end not recorded yet
        self.framework = 0  # > 0 while a framework that carries the cut as its own limits is fitting

    def _role(self, p: _Pass) -> str | None:
        lp = self.loop.pass_at(p.event.seq)
        return lp.role if lp is not None else None

    def training_pass(self) -> tuple[_Pass, int] | None:
        """The training pass under way, if any, and its loader's accumulation length."""
        for p in self._active:
            if self._role(p) == TRAIN:
                return p, self.loop.accumulation_of(p.loader.key) or 1
        return None

    def evaluating(self) -> bool:
        """Is an evaluation pass under way?"""
        return any(p.role == EVAL for p in self.loop.open_passes())

    def _cut_for(self, st: _Loader, length: int | None = None) -> int:
        trains = self.loop.lineage_trains(st.key)
        if not (trains if trains is not None else st.guess_train):
            return self.rec.limits.val_steps
        return aligned_cut(self.rec.limits.steps, length, self.loop.accumulation_of(st.key))

    def _set_cut(self, p: _Pass, cut: int | None) -> None:
        p.cut = p.event.data["cut"] = cut

    def created(self, loader: DataLoader, args: tuple = (), kwargs: dict | None = None) -> None:
        shuffled = isinstance(getattr(loader, "sampler", None), RandomSampler) or bool(
            getattr(getattr(loader, "sampler", None), "shuffle", False)
        )
        first = not self._loaders
        attrs = {"batch_size": loader.batch_size, "shuffle": shuffled, "drop_last": bool(loader.drop_last),
                 "sampler": type(loader.sampler).__name__, "dataset": type(loader.dataset).__name__}
        if default_order(loader, args, kwargs or {}):
            attrs["default_order"] = True
        try:
            attrs["length"] = _real_len(loader)
        except TypeError:
            attrs["length"] = None
        key = self.rec.register(loader, ev.LOADER, attrs)
        self._loaders[id(loader)] = _Loader(key, guess_train=shuffled or bool(loader.drop_last) or first)
        weakref.finalize(loader, self._loaders.pop, id(loader), None)

    def derive(self, loader: Any, source: Any) -> None:
        """A framework built `loader` from the script's `source` (Accelerate's prepare): to the cut they are
        one loader, with the role the script's one suggests and any length it was already told."""
        st, src = self._loaders.get(id(loader)), self._loaders.get(id(source))
        if st is None or src is None or st is src:
            return
        st.guess_train = src.guess_train
        if st.promised is None:
            st.promised = src.promised
        self.rec.emit(ev.LOADER_DERIVED, st.key, source=src.key)

    def length(self, loader: DataLoader, real: int) -> int:
        st = self._loaders.get(id(loader))
        if st is None:
            return real
        if self.framework and (st.current is None or st.current.framework or not st.current.active):
            return real if st.promised is None else min(real, st.promised)  # the framework's own limits cut it
        cur = st.current
        if cur is not None:
            frame = self.rec.user_frame()
            asker = (frame.f_code.co_filename, frame.f_lineno) if frame is not None else None
            if cur.active or asker in cur.asked_at:
                # the pass under way (or, for a line that asked during it, the pass just used up)
                if cur.cut is None and not cur.uncut:
                    self._set_cut(cur, self._cut_for(st, real))
                cur.announced = True
                if cur.active:
                    cur.asked_at.add(asker)
                return real if cur.cut is None else min(real, cur.cut)
        if st.promised is None:
            st.promised = self._cut_for(st, real)
        return min(real, st.promised)

    def start_pass(self, loader: DataLoader, inner: Iterator) -> Iterator:
        st = self._loaders.get(id(loader))
        if st is None:
            return inner
        self._flush_dropped()
        if st.current is not None:
            self._ended(st.current, "superseded")
        try:
            length: int | None = _real_len(loader)
        except TypeError:
            length = None
        announced = st.promised is not None
        known = self.loop.lineage_trains(st.key) is not None and not self.framework
        cut = st.promised if announced else (self._cut_for(st, length) if known else None)
        st.promised = None
        # the numbers held by the frame that iterates the loader, at the start and end of each pass
        frame = self.rec.loop_frame()
        event = self.rec.emit(ev.LOADER_PASS, st.key, index=st.passes, length=length, cut=cut, batches=0,
                              frame=_frame_name(frame), locals_start=numeric_locals(frame, self.rec.is_user_file),
                              models_start=self._models(frame), **accumulators_in(frame, self.rec.is_user_file))
        p_tensors = tensor_ids(frame)
        st.passes += 1
        p = _Pass(st, event, cut, announced=announced, tensors=p_tensors, framework=bool(self.framework))
        if p.framework:
            event.data["framework"] = True
        st.current = p
        self._active.append(p)
        return _CutIterator(self, st, p, inner)

    def before_pass(self, loader: DataLoader) -> None:
        """Called before a pass starts: a run already over ends again here."""
        if id(loader) in self._loaders:
            self.rec.at_cycle_start()

    def note_step(self) -> None:
        """An optimizer stepped: the loop model now knows the accumulation length.

        A training pass whose cut the script has not been told yet is then cut so that the truncated
        epoch ends the way the real one does (the same partial cycle at its end).
        """
        for p in self._active:
            if self._role(p) != TRAIN:
                continue
            p.steps += 1
            if p.announced or p.framework:
                continue
            k = self.loop.accumulation_of(p.loader.key)
            aligned = aligned_cut(self.rec.limits.steps, p.event.data.get("length"), k)
            if aligned >= p.yielded and p.cut != aligned:
                self._set_cut(p, aligned)

    def next_batch(self, st: _Loader, p: _Pass, inner: Iterator) -> Any:
        self.rec.at_cycle_start()
        self._flush_dropped()
        lp = self.loop.pass_at(p.event.seq)
        role = self.loop.before_batch(lp) if lp is not None else None
        length = p.event.data.get("length")
        if p.cut is None and p.yielded and not p.uncut and not p.framework:
            if role == EVAL:
                self._set_cut(p, self.rec.limits.val_steps)
            elif role == TRAIN and self.loop.accumulation_of(st.key):
                self._set_cut(p, aligned_cut(self.rec.limits.steps, length, self.loop.accumulation_of(st.key)))
        if p.cut is not None and p.yielded >= p.cut and (length is None or p.yielded < length):
            # a real cut; an untruncated pass instead ends in its own iterator below, which lets the
            # sampler finish (RandomSampler draws once more from its generator on the way out)
            if stops_cleanly(sys._getframe(2)):
                self._ended(p, "cut")
                raise StopIteration
            self._uncut(p, role)
        try:
            batch = next(inner)
        except StopIteration:
            self._ended(p, "exhausted")
            raise
        p.yielded += 1
        p.event.data["batches"] = p.yielded
        self.rec.emit(ev.LOADER_BATCH, st.key, index=p.yielded - 1)
        self.on_progress()
        return batch

    def _uncut(self, p: _Pass, role: str | None) -> None:
        """The script takes this pass's batches with `next()` and would crash on an early end: an
        evaluation pass runs on as far as the script asks; a training pass ends the run here instead."""
        if role == TRAIN:
            self.rec.stop(f"step limit reached ({p.yielded} batches of the epoch: the script takes them with next() "
                          f"and does not handle an early end of the loader, so the pass was not cut)")
        self._set_cut(p, None)
        p.uncut = True
        p.event.data["uncut"] = "the script takes its batches with next() and does not handle an early end"

    def _ended(self, p: _Pass, reason: str) -> None:
        """The pass ran out, was cut or superseded: note the frame's numbers, then finish it."""
        if p.active:
            frame = self.rec.loop_frame()
            p.event.data["locals_end"] = numeric_locals(frame, self.rec.is_user_file)
            p.event.data["models_end"] = self._models(frame)
            p.event.data["recorded"] = recorded_tensors(frame, p.tensors)
            if p.divided:
                # one sum (one device sync) per pass: what a running total of the divided losses would hold
                total = torch.stack([t.float() for t in p.divided]).sum()
                p.event.data.update(divided_loss_sum=float(total), loss_divisor=p.divisor)
                p.divided.clear()
        self._finish(p, reason)

    def _models(self, frame: Any) -> dict[str, dict[str, Any]]:
        """Mode facts of the models the loop's frame holds, by their keys."""
        out = {}
        for model in models_in(frame):
            key = self.rec.key_of(model) or self.rec.register(model, ev.MODEL, {})
            out[key] = mode_facts(model)
            self.on_model(key, model)
        return out

    def note_divided_loss(self, loss: torch.Tensor, divisor: float) -> None:
        """A backward ran on a loss divided by `divisor` during the training pass under way."""
        current = self.training_pass()
        if current is not None and loss.numel() == 1:
            current[0].divided.append(loss.detach())
            current[0].divisor = divisor

    def _finish(self, p: _Pass, reason: str = "dropped") -> None:
        if p.active:
            p.active = False
            self._active.remove(p)
            if reason == "dropped":  # from a finalizer, at any moment: recorded at the next loader call
                self._dropped.append(p)
                return
            self._end_event(p, reason)

    def _end_event(self, p: _Pass, reason: str) -> None:
        self.rec.emit(ev.LOADER_END, p.loader.key, **{"pass": p.event.seq}, reason=reason, batches=p.yielded)
        self.on_progress()

    def _flush_dropped(self) -> None:
        while self._dropped:
            self._end_event(self._dropped.pop(0), "dropped")


class _CutIterator:
    """Wraps a DataLoader iterator; yields at most the pass's cut."""

    def __init__(self, tracker: LoaderTracker, st: _Loader, p: _Pass, inner: Iterator) -> None:
        self._tracker, self._st, self._pass, self._inner = tracker, st, p, inner
        # an iterator dropped half-way (e.g. `next(iter(loader))`) ends its pass
        weakref.finalize(self, tracker._finish, p)

    def __iter__(self) -> "_CutIterator":
        return self

    def __next__(self) -> Any:
        return self._tracker.next_batch(self._st, self._pass, self._inner)

    def __len__(self) -> int:
        if self._pass.cut is None and not self._pass.uncut and not self._pass.framework:
            self._tracker._set_cut(self._pass, self._tracker._cut_for(self._st, self._pass.event.data.get("length")))
        self._pass.announced = True
        return len(self._inner) if self._pass.cut is None else min(len(self._inner), self._pass.cut)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _frame_name(frame: Any) -> str | None:
    return None if frame is None else f"{frame.f_code.co_name}@{id(frame):x}"


def aligned_cut(steps: int, length: int | None, accumulation: int | None) -> int:
    """At most `steps` batches, ending on the same accumulation phase as the real epoch.

    With 16 batches and accumulation 4, a cut at 10 would leave a partial cycle of 2 that the real
    epoch never has; 8 keeps the real epoch's ending. Without accumulation the cut is `steps`. An
    accumulation longer than `steps` gets one whole cycle and the real epoch's tail.
    """
    if length is None or length <= steps or not accumulation or accumulation <= 1:
        return steps
    high = max(steps, accumulation + length % accumulation)
    if high >= length:
        return length
    return high - (high - length) % accumulation


def _real_len(loader: DataLoader) -> int:
    return _ORIGINAL_LEN(loader)


_ORIGINAL_LEN = DataLoader.__len__
