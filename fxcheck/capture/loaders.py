"""DataLoader passes: which loader trains, cutting passes to --steps / --val-steps, epochs.

A loader's role is learnt from what the script does with it: a pass during which a backward
runs is a training pass; once a loader has trained it stays a training loader. While a pass's
role is still unknown it is cut like an evaluation pass unless a backward shows up by then.
``len(loader)`` always agrees with what the next (or current) pass will yield, so a loop that
tests ``i + 1 == len(loader)`` sees its last batch.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, RandomSampler

from fxcheck import events as ev
from fxcheck.capture.recorder import Recorder
from fxcheck.capture.modes import mode_facts, models_in, recorded_tensors, tensor_ids
from fxcheck.capture.state import accumulators_in, numeric_locals
from fxcheck.events import Event


@dataclass
class _Pass:
    loader: "_Loader"
    event: Event  # the loader.pass event; its data is completed as the pass goes on
    cut: int | None  # batches this pass may yield; None until its role is known
    yielded: int = 0
    training: bool = False
    active: bool = True
    announced: bool = False  # len() has told the script this pass's length: the cut is final
    steps: int = 0  # optimizer steps taken during this pass
    divided: list = field(default_factory=list)  # losses given to backward that were divided (detached)
    tensors: dict = field(default_factory=dict)  # tensor held by each name of the loop's frame at the start
    divisor: float | None = None


@dataclass
class _Loader:
    key: str
    guess_train: bool  # the role assumed when len() is asked before any pass has told
    role: str | None = None  # "train" | "eval"
    promised: int | None = None  # a cut already answered by len() for the next pass
    passes: int = 0
    accumulation: int | None = None  # batches per optimizer step, learnt from the first training pass
    current: _Pass | None = None


class LoaderTracker:
    """State of every DataLoader of the run, keyed by id."""

    def __init__(self, rec: Recorder, on_progress: Callable[[], None] = lambda: None) -> None:
        self.rec = rec
        self.on_progress = on_progress  # called after each batch, step and pass end
        self.on_model: Callable[[str, Any], None] = lambda key, model: None  # a model seen in a loop's frame
        self._loaders: dict[int, _Loader] = {}
        self._active: list[_Pass] = []

    def training_pass(self) -> tuple[_Pass, int] | None:
        """The active training pass, if any, and its loader's accumulation length."""
        for p in self._active:
            if p.active and p.training:
                return p, p.loader.accumulation or 1
        return None

    def evaluating(self) -> bool:
        """Is a pass over a loader known to be an evaluation loader under way?"""
        return any(p.active and p.loader.role == "eval" for p in self._active)

    def _cut_for(self, st: _Loader, length: int | None = None) -> int:
        limits = self.rec.limits
        train = st.role == "train" or (st.role is None and st.guess_train)
        if not train:
            return limits.val_steps
        return aligned_cut(limits.steps, length, st.accumulation)

    def created(self, loader: DataLoader) -> None:
        shuffled = isinstance(getattr(loader, "sampler", None), RandomSampler) or bool(
            getattr(getattr(loader, "sampler", None), "shuffle", False)
        )
        first = not self._loaders
        attrs = {"batch_size": loader.batch_size, "shuffle": shuffled, "drop_last": bool(loader.drop_last)}
        try:
            attrs["length"] = _real_len(loader)
        except TypeError:
            attrs["length"] = None
        key = self.rec.register(loader, ev.LOADER, attrs)
        self._loaders[id(loader)] = _Loader(key, guess_train=shuffled or bool(loader.drop_last) or first)
        weakref.finalize(loader, self._loaders.pop, id(loader), None)

    def length(self, loader: DataLoader, real: int) -> int:
        st = self._loaders.get(id(loader))
        if st is None:
            return real
        cur = st.current
        if cur is not None and cur.active:
            if cur.cut is None:
                cur.cut = cur.event.data["cut"] = self._cut_for(st, real)
            cur.announced = True
            return min(real, cur.cut)
        if st.promised is None:
            st.promised = self._cut_for(st, real)
        return min(real, st.promised)

    def start_pass(self, loader: DataLoader, inner: Iterator) -> Iterator:
        st = self._loaders.get(id(loader))
        if st is None:
            return inner
        if st.current is not None:
            self._finish(st.current)
        try:
            length: int | None = _real_len(loader)
        except TypeError:
            length = None
        announced = st.promised is not None
        cut = st.promised if announced else (self._cut_for(st, length) if st.role else None)
        st.promised = None
        # the numbers held by the frame that iterates the loader, at the start and end of each pass
        frame = self.rec.user_frame()
        event = self.rec.emit(ev.LOADER_PASS, st.key, index=st.passes, length=length, cut=cut, training=False, batches=0,
                              accumulation=st.accumulation, frame=_frame_name(frame), locals_start=numeric_locals(frame),
                              models_start=self._models(frame), **accumulators_in(frame))
        p_tensors = tensor_ids(frame)
        st.passes += 1
        p = _Pass(st, event, cut, announced=announced, tensors=p_tensors)
        st.current = p
        self._active.append(p)
        return _CutIterator(self, st, p, inner)

    def before_pass(self, loader: DataLoader) -> None:
        """Called before a pass starts: it may end the run (epoch E+1)."""
        st = self._loaders.get(id(loader))
        if st is not None:
            self.rec.on_pass_start(st.key, training=st.role == "train")

    def note_backward(self) -> None:
        """A backward is about to run: every active pass is a training pass."""
        for p in self._active:
            if p.active and not p.training:
                p.training = True
                p.event.data["training"] = True
                key = p.event.obj
                p.loader.role = "train"
                if key not in self.rec.train_loaders:
                    self.rec.train_loaders.append(key)
                self.rec.train_passes[key] = self.rec.train_passes.get(key, 0) + 1

    def note_step(self) -> None:
        """An optimizer stepped: learn the accumulation length from the first training pass.

        A cut that the script has not been told yet is then aligned so that the truncated epoch
        ends the way the real one does (same partial cycle at its end).
        """
        for p in self._active:
            if not (p.active and p.training and p.yielded):
                continue
            p.steps += 1
            st = p.loader
            if st.accumulation is not None:
                continue
            st.accumulation = p.yielded
            p.event.data["accumulation"] = st.accumulation
            if not p.announced and p.cut is not None:
                aligned = aligned_cut(self.rec.limits.steps, p.event.data.get("length"), st.accumulation)
                if aligned >= p.yielded:
                    p.cut = aligned
                    p.event.data["cut"] = aligned

    def next_batch(self, st: _Loader, p: _Pass, inner: Iterator) -> Any:
        self.rec.check_stopped()
        if p.cut is None and p.yielded >= self.rec.limits.val_steps:
            # role still unknown: it trains if a backward ran during this pass
            p.cut = self._cut_for(st, p.event.data.get("length")) if p.training else self.rec.limits.val_steps
            p.event.data["cut"] = p.cut
            if not p.training and st.role is None:
                st.role = "eval"
        length = p.event.data.get("length")
        if p.cut is not None and p.yielded >= p.cut and (length is None or p.yielded < length):
            # a real cut; an untruncated pass instead ends in its own iterator below, which lets the
            # sampler finish (RandomSampler draws once more from its generator on the way out)
            self._ended(p)
            raise StopIteration
        try:
            batch = next(inner)
        except StopIteration:
            self._ended(p)
            raise
        p.yielded += 1
        p.event.data["batches"] = p.yielded
        self.rec.emit(ev.LOADER_BATCH, st.key, index=p.yielded - 1)
        self.on_progress()
        return batch

    def _ended(self, p: _Pass) -> None:
        """The pass ran out (or was cut) in the user's loop: note the frame's numbers, then finish it."""
        if p.active:
            frame = self.rec.user_frame()
            p.event.data["locals_end"] = numeric_locals(frame)
            p.event.data["models_end"] = self._models(frame)
            p.event.data["recorded"] = recorded_tensors(frame, p.tensors)
            if p.divided:
                # one sum (one device sync) per pass: what a running total of the divided losses would hold
                total = torch.stack([t.float() for t in p.divided]).sum()
                p.event.data.update(divided_loss_sum=float(total), loss_divisor=p.divisor)
                p.divided.clear()
        self._finish(p)

    def _models(self, frame: Any) -> dict[str, dict[str, Any]]:
        """Mode facts of the models the loop's frame holds, by their keys."""
        out = {}
        for model in models_in(frame):
            key = self.rec.key_of(model) or self.rec.register(model, ev.MODEL, {})
            out[key] = mode_facts(model)
            self.on_model(key, model)
        return out

    def note_divided_loss(self, loss: torch.Tensor, divisor: float) -> None:
        """A backward ran on a loss divided by `divisor` during the active training pass."""
        current = self.training_pass()
        if current is not None and loss.numel() == 1:
            current[0].divided.append(loss.detach())
            current[0].divisor = divisor

    def _finish(self, p: _Pass) -> None:
        if p.active:
            p.active = False
            self._active.remove(p)
            self.on_progress()


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
        if self._pass.cut is None:
            self._pass.cut = self._tracker._cut_for(self._st, self._pass.event.data.get("length"))
            self._pass.event.data["cut"] = self._pass.cut
        self._pass.announced = True
        return min(len(self._inner), self._pass.cut)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _frame_name(frame: Any) -> str | None:
    return None if frame is None else f"{frame.f_code.co_name}@{id(frame):x}"


def aligned_cut(steps: int, length: int | None, accumulation: int | None) -> int:
    """At most `steps` batches, ending on the same accumulation phase as the real epoch.

    With 16 batches and accumulation 4, a cut at 10 would leave a partial cycle of 2 that the real
    epoch never has; 8 keeps the real epoch's ending. Without accumulation the cut is `steps`.
    """
    if length is None or length <= steps or not accumulation or accumulation <= 1:
        return steps
    cut = steps - (steps - length % accumulation) % accumulation
    return cut if cut > 0 else steps


def _real_len(loader: DataLoader) -> int:
    return _ORIGINAL_LEN(loader)


_ORIGINAL_LEN = DataLoader.__len__
