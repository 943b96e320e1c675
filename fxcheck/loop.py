"""The loop model: what each loader pass is, where epochs begin, evaluation phases — derived from events.

One place decides what the loop is. The recorder feeds the model every event while the script runs, and
the cut asks it what a loader pass is, how many backwards make one optimizer step and which epoch has
begun; `graph.build` feeds it the same events again from the trace, and the rules ask it what each pass,
epoch and phase was. Its decisions read only the events seen so far, never data that capture completes
later, so the replay reaches exactly the decisions the cut acted on.

- A loader pass **trains** when a backward runs while it is open. It is **evaluation** when, by the time
  the script asks for its second batch, forwards of a trained model ran under no_grad or in eval mode
  and no backward did; a pass that began as evaluation never becomes training, and a backward ends it
  (another phase began). A pass that fed no forward stays unclassified (data preparation: never cut).
- A pass ends when its loader runs out, is cut, is dropped, when the next pass of its loader begins, or
  when another phase begins while the script has stopped taking batches from it (Lightning's
  validation stops at `len()` without exhausting the iterator).
- An **epoch** begins with each training pass that starts while no other training pass is open (a
  DataLoader rebuilt every epoch at one line is one loader to the cut). Loops without a training loader
  get epochs from what repeats after training began: evaluation phases, or scheduler steps that come
  once per several optimizer steps; with neither, the loop has no epochs and `--steps` decides.
- **Evaluation phases** (found after the run) are runs of forwards of trained models that no backward
  went through; a run inside a training iteration (a no_grad forward for pseudo-labels, a batch skipped
  before its backward) is training, and a run that follows a reset of BatchNorm statistics in training
  mode (`swa_utils.update_bn`, or the same by hand) is recalibration.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from fxcheck import events as ev

TRAIN, EVAL, RECALIBRATION = "train", "eval", "recalibration"

# how the epoch boundaries were recognised
BY_LOADER = "a new pass over the training DataLoader"
BY_REBUILT_LOADER = "a new training DataLoader built each epoch at {site}"
BY_EVALUATION = "an evaluation phase after each epoch's training (no training DataLoader)"
BY_SCHEDULER = "an epoch-wise LR scheduler step (no training DataLoader)"
NO_EPOCHS = "none: a loop without epochs (no training DataLoader, nothing repeats between steps); cut by --steps"


@dataclass
class LoaderPass:
    seq: int  # its loader.pass event
    loader: str
    lineage: str  # where the loader was built: loaders rebuilt at one line are one loader to the cut
    role: str | None = None  # TRAIN | EVAL | None (no forward seen: data preparation)
    batches: int = 0
    last_batch: int = -1  # seq of its latest batch
    end: int | None = None  # seq of the event at which it ended
    forwards: int = 0
    eval_forwards: int = 0  # forwards under no_grad or in eval mode
    backwards: int = 0

    def open_at(self, seq: int) -> bool:
        return self.seq < seq and (self.end is None or seq <= self.end)


@dataclass
class Epoch:
    index: int  # 1-based, as every message says it
    seq: int  # the event it begins at
    by: str


@dataclass
class Phase:
    """An evaluation (or recalibration) phase: forwards of trained models that no backward went through."""

    kind: str
    forwards: list[Any] = field(default_factory=list)  # model.forward events (graph node dicts after build)
    loader_pass: LoaderPass | None = None  # the evaluation pass they ran in, if any
    loader_pass_event: Any = None  # its loader.pass event (set by graph.build)

    @property
    def first(self) -> Any:
        return self.forwards[0]

    @property
    def last(self) -> Any:
        return self.forwards[-1]


def _site(e: Any) -> tuple[Any, Any]:
    if isinstance(e, dict):
        return e.get("file"), e.get("line")
    return e.site.file, e.site.line


def is_step(kind: str, obj: Any, data: dict[str, Any]) -> str | None:
    """The optimizer whose cycle this event ends: `optimizer.step()`, or `scaler.step(opt)` (run or skipped)."""
    if kind == ev.SCALER_STEP and "raised" not in data:
        return data.get("optimizer")
    if kind == ev.OPTIMIZER_STEP and not data.get("via_scaler"):
        return obj
    return None


def is_micro_batch(data: dict[str, Any], site: Any, earlier: Any) -> bool:
    """Is this backward one micro-batch of its cycle? One outside the optimizer step is; one inside it
    (a closure) is when the cycle already had a backward from its line outside the step: Lightning runs
    the last micro-batch of an accumulation in `optimizer.step(closure)`. LBFGS's closure, all inside
    the step, re-evaluates one batch."""
    return not data.get("inside_step") or site in earlier


def micro_batches(backwards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cycle's backward events that are micro-batches (see is_micro_batch), in order."""
    seen: set[Any] = set()
    out = []
    for e in backwards:
        site = (e["file"], e["line"])
        if is_micro_batch(e["data"], site, seen):
            seen.add(site)
            out.append(e)
    return out


class LoopModel:
    """Fed every event in order; answers what the loop is so far."""

    def __init__(self) -> None:
        self.passes: list[LoaderPass] = []
        self._by_seq: dict[int, LoaderPass] = {}
        self._open: list[LoaderPass] = []
        self._latest: dict[str, LoaderPass] = {}  # loader key -> its latest pass
        self._lineage: dict[str, str] = {}  # loader key -> creation site
        self.accumulation: dict[str, int] = {}  # lineage -> backwards per optimizer step
        self.declared_accumulation: int | None = None  # a framework's own accumulation setting (Accelerate's)
        self.epochs: list[Epoch] = []
        self.steps = 0  # optimizer cycles ended (scaler-skipped ones and hand-written updates included)
        self._backward_sites: Counter[tuple[Any, Any]] = Counter()  # since the latest step
        self._last_backward_site: tuple[Any, Any] | None = None
        self._steps_at_epoch = 0
        self._scheduler_steps: dict[str, int] = {}  # scheduler -> self.steps at its latest step
        self._separator: str | None = None  # BY_EVALUATION / BY_SCHEDULER once recognised
        self._eval_run: tuple[int, int] | None = None  # (first, last) seq of evaluation forwards since training
        self._eval_cycle = -2  # self.steps when the latest evaluation run ended
        self._eval_every_cycle = False
        self.norm_resets: list[int] = []
        self.training_lineage = False  # has any loader pass trained?

    # -- questions the cut asks ------------------------------------------------------------------
    def pass_at(self, seq: int) -> LoaderPass | None:
        return self._by_seq.get(seq)

    def lineage_trains(self, loader: str) -> bool | None:
        """Has a pass of this loader's lineage trained (True), evaluated only (False), or neither (None)?"""
        lineage = self._lineage.get(loader, loader)
        roles = {p.role for p in self.passes if p.lineage == lineage and p.role}
        return True if TRAIN in roles else (False if EVAL in roles else None)

    def accumulation_of(self, loader: str) -> int | None:
        """Backwards per step of the loader's lineage: learnt at its first step, or before that the
        accumulation a framework was configured with."""
        return self.accumulation.get(self._lineage.get(loader, loader)) or self.declared_accumulation

    def open_passes(self) -> list[LoaderPass]:
        return list(self._open)

    def epochs_begun(self) -> int:
        return len(self.epochs)

    @property
    def epoch_by(self) -> str:
        if not self.epochs:
            return NO_EPOCHS
        return self.epochs[-1].by

    # -- feeding -------------------------------------------------------------------------------
    def feed(self, e: Any) -> None:
        if isinstance(e, dict):  # a graph's event, or an Event as capture records it
            kind, seq, obj, data = e["kind"], e["seq"], e["obj"], e["data"]
        else:
            kind, seq, obj, data = e.kind, e.seq, e.obj, e.data
        if kind == ev.OBJECT_CREATED and isinstance(obj, str) and obj.startswith(ev.LOADER):
            file, line = _site(e)
            self._lineage[obj] = f"{file}:{line}" if file else obj
        elif kind == ev.LOADER_DERIVED and isinstance(obj, str):
            source = data.get("source")
            self._lineage[obj] = self._lineage.get(source, source)  # one loader to the cut
        elif kind == ev.FRAMEWORK and (data.get("accumulation") or 1) > 1:
            self.declared_accumulation = int(data["accumulation"])
        elif kind == ev.LOADER_PASS:
            self._pass_started(seq, obj)
        elif kind == ev.LOADER_BATCH:
            p = self._latest.get(obj)
            if p is not None and p.end is None:
                self.before_batch(p)
                p.batches = int(data.get("index", p.batches)) + 1
                p.last_batch = seq
        elif kind == ev.LOADER_END:
            p = self._by_seq.get(data.get("pass"))
            if p is not None and p.end is None:
                if data.get("reason") in ("cut", "exhausted"):
                    self.before_batch(p)
                self._end(p, seq)
        elif kind == ev.MODEL_FORWARD:
            self._forward(seq, data)
        elif kind == ev.BACKWARD:
            self._backward(e, seq, data)
        elif kind == ev.NORM_RESET:
            self.norm_resets.append(seq)
        elif kind == ev.SCHEDULER_STEP:
            self._scheduler_step(seq, obj)
        if is_step(kind, obj, data) or kind == ev.HAND_UPDATE:
            self._step()  # a hand-written update ends a cycle of the loop as an optimizer step does

    def _pass_started(self, seq: int, loader: str) -> None:
        previous = self._latest.get(loader)
        if previous is not None and previous.end is None:
            self._end(previous, seq)
        p = LoaderPass(seq, loader, self._lineage.get(loader, loader))
        self.passes.append(p)
        self._by_seq[seq] = p
        self._latest[loader] = p
        self._open.append(p)

    def before_batch(self, p: LoaderPass) -> str | None:
        """The script asks for another batch of the pass: at its second batch an unclassified pass is judged."""
        if p.role is None and p.batches >= 1 and not p.backwards and p.eval_forwards:
            p.role = EVAL
        return p.role

    def _end(self, p: LoaderPass, seq: int) -> None:
        p.end = seq
        if p in self._open:
            self._open.remove(p)

    def _forward(self, seq: int, data: dict[str, Any]) -> None:
        evaluating = not data.get("grad_enabled") or not data.get("training")
        for p in self._open:
            p.forwards += 1
            p.eval_forwards += evaluating
        if evaluating and data.get("held", True) and self.steps and not any(p.role == TRAIN for p in self._open):
            first = self._eval_run[0] if self._eval_run else seq
            self._eval_run = (first, seq)

    def _backward(self, e: Any, seq: int, data: dict[str, Any]) -> None:
        for p in list(self._open):
            if p.role == EVAL or (p.role is None and self._stale(p)):
                self._end(p, seq)  # another phase began: the script has left this pass
                continue
            if p.role is None and p.batches:
                p.role = TRAIN
                self._trains(p)
            p.backwards += 1
        if self._eval_run is not None:
            if self.steps - self._eval_cycle <= 1:
                self._eval_every_cycle = True  # part of every iteration (targets, pseudo-labels): no separator
            self._eval_cycle = self.steps
            if not self._eval_every_cycle:
                self._separated(BY_EVALUATION, self._eval_run[1] + 1)
            self._eval_run = None
        site = _site(e)
        if is_micro_batch(data, site, self._backward_sites):
            self._backward_sites[site] += 1
            self._last_backward_site = site

    def _stale(self, p: LoaderPass) -> bool:
        """Has the script moved on from this pass? Another loader's pass began after its latest batch, or the
        script went back to a pass that was open before this one began (a sanity-check validation run
        inside the training epoch's pass, which then resumes)."""
        return any(q.loader != p.loader and (q.seq > p.last_batch or q.seq < p.seq and q.last_batch > p.last_batch)
                   for q in self._open if q is not p)

    def _trains(self, p: LoaderPass) -> None:
        self.training_lineage = True
        if any(q.role == TRAIN for q in self._open if q is not p):
            return  # several loaders trained together (zip): one epoch
        first = next((q for q in self.passes if q.role == TRAIN and q is not p), None)
        if first is None or first.loader == p.loader:
            by = BY_LOADER
        else:
            by = BY_REBUILT_LOADER.format(site=p.lineage) if p.lineage == first.lineage else BY_LOADER
        self.epochs.append(Epoch(len(self.epochs) + 1, p.seq, by))
        self._steps_at_epoch = self.steps

    def _scheduler_step(self, seq: int, scheduler: Any) -> None:
        key = str(scheduler)
        since = self.steps - self._scheduler_steps.get(key, 0)
        self._scheduler_steps[key] = self.steps
        if since >= 2 and not any(p.role == TRAIN for p in self._open):
            self._separated(BY_SCHEDULER, seq + 1)

    def _separated(self, by: str, seq: int) -> None:
        """Something that repeats between epochs of a loop without a training loader ran."""
        if self.training_lineage or self.steps == self._steps_at_epoch:
            return
        if self._separator is None:
            self._separator = by
            self.epochs.append(Epoch(1, 0, by))
        if by != self._separator:
            return
        self.epochs.append(Epoch(len(self.epochs) + 1, seq, by))
        self._steps_at_epoch = self.steps

    def _step(self) -> None:
        self.steps += 1
        site = self._last_backward_site
        k = self._backward_sites.get(site, 0) if site is not None else 0
        self._backward_sites.clear()
        training = next((p for p in self._open if p.role == TRAIN), None)
        if training is not None and training.lineage not in self.accumulation:
            self.accumulation[training.lineage] = max(1, k)

    def steps_in_epoch(self) -> int:
        """Optimizer steps since the latest epoch began."""
        return self.steps - self._steps_at_epoch

    # -- after the run -----------------------------------------------------------------------------
    def phases(self, events: Iterable[Any]) -> list[Phase]:
        """Evaluation and recalibration phases, from the forwards of the whole run (graph node dicts)."""
        out: list[Phase] = []
        run: list[Any] = []
        run_pass: LoaderPass | None = None
        latest_batch: dict[str, int] = {}  # loader -> seq of its latest batch so far
        train_batch = -1  # seq of the latest batch of a training pass
        trained_sites: set[tuple[Any, Any]] = set()
        since = -1  # the latest backward, or the end of the latest run
        for e in events:
            if e["kind"] == ev.MODEL_FORWARD and e["data"].get("trained"):
                trained_sites.add((e["file"], e["line"]))

        def close(by_training: bool) -> None:
            nonlocal run, run_pass, since
            if run:
                phase = self._classify(run, run_pass, by_training, trained_sites, since)
                if phase is not None:
                    out.append(phase)
                since = run[-1]["seq"]  # a BatchNorm reset before this run is not the next run's
            run, run_pass = [], None

        def like_training(f: Any) -> bool:
            # the training forward itself (its site trained, grad on, train mode), e.g. the batch whose
            # backward the cut never let run: never part of an evaluation run
            d = f["data"]
            return bool(d.get("grad_enabled") and d.get("training")) and (f["file"], f["line"]) in trained_sites

        for e in events:
            kind = e["kind"]
            if kind == ev.BACKWARD:
                close(True)
                since = e["seq"]
            elif kind == ev.MODEL_FORWARD:
                if e["data"].get("trained"):
                    close(True)
                    continue
                # the evaluation pass the forward runs in: open, and not left for a training batch since its
                # latest one (Lightning's validation never exhausts its iterator)
                enclosing = next((p for p in reversed(self.passes) if p.role != TRAIN and p.open_at(e["seq"])
                                  and latest_batch.get(p.loader, -1) > train_batch), None)
                if run and like_training(e) != like_training(run[-1]):
                    close(like_training(e))  # the training forward that follows ends the run like a backward
                elif run and enclosing is not run_pass:
                    close(False)
                if not run:
                    run_pass = enclosing
                run.append(e)
            elif kind == ev.LOADER_BATCH:
                latest_batch[e["obj"]] = e["seq"]
                p = self.latest_pass_of(e["obj"], e["seq"])
                if p is not None and p.role == TRAIN:
                    train_batch = e["seq"]
                    close(False)  # an evaluation does not go on across a training batch: what follows is training
        close(False)
        return out

    def latest_pass_of(self, loader: str, seq: int) -> LoaderPass | None:
        return next((p for p in reversed(self.passes) if p.loader == loader and p.seq < seq), None)

    def _classify(self, run: list[Any], run_pass: LoaderPass | None, before_its_backward: bool,
                  trained_sites: set[tuple[Any, Any]], since: int) -> Phase | None:
        first = run[0]["seq"]
        in_training = any(p.role == TRAIN and p.open_at(first) for p in self.passes)
        plain = all(f["data"].get("grad_enabled") and f["data"].get("training") for f in run)
        if run_pass is None and in_training and before_its_backward:
            return None  # inside a training iteration: pseudo-labels, targets, a skipped batch
        if run_pass is None and plain and all((f["file"], f["line"]) in trained_sites for f in run):
            return None  # the training forward itself, on a batch whose backward was skipped
        reset = any(since < s <= run[-1]["seq"] for s in self.norm_resets)
        if reset and all(f["data"].get("training") for f in run):
            return Phase(RECALIBRATION, run, run_pass)
        return Phase(EVAL, run, run_pass)


def replay(events: Iterable[Any]) -> LoopModel:
    """The loop model of a finished run."""
    model = LoopModel()
    for e in events:
        model.feed(e)
    return model
