"""The vocabulary of a trace: event kinds, tracked objects and their fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Event kinds. Each is defined here once; capture emits them, rules query them.
OBJECT_CREATED = "object.created"  # data: none (the object node carries the facts)
LOADER_PASS = "loader.pass"  # a new pass over a DataLoader began; data: index, length, cut, training, batches
LOADER_BATCH = "loader.batch"  # the pass yielded a batch; data: index
LOADER_END = "loader.end"  # the pass ended; data: pass (seq of its loader.pass), reason (exhausted|cut|dropped|superseded), batches
BACKWARD = "backward"  # data: scaled, touched {opt: n params}, inside_step (opt or None)
GRAD_SET = "grad.set"  # gradients assigned outside backward; data: touched {opt: n}
GRAD_CLEAR = "grad.clear"  # gradients cleared (by zero_grad or detected from state); data: cleared {opt: n}, via
OPTIMIZER_STEP = "optimizer.step"  # a real optimizer.step() ran; data: via_scaler, stale, cleared, touched
SCALER_SCALE = "scaler.scale"
SCALER_UNSCALE = "scaler.unscale_"  # data: optimizer, internal (called by scaler.step)
SCALER_STEP = "scaler.step"  # data: optimizer, skipped (inf/NaN gradients)
SCALER_UPDATE = "scaler.update"  # data: scale_before, scale_after
CLIP = "clip"  # data: function, optimizers [opt keys whose parameters were clipped], limit, hand {after_update} (clipped parameters no optimizer holds)
SCHEDULER_STEP = "scheduler.step"  # data: optimizer, lr
MODULE_MODE = "module.mode"  # data: training (bool)
MODEL_FORWARD = "model.forward"  # a trained model's forward; data: training, grad_enabled, autocast (dtype), phase (the
# capture's guess), mode_layers, train_layers (when in eval mode), stats_before/after (BatchNorm counters), recorded
# (its output has a grad_fn), trained (a backward went through its output)
HAND_UPDATE = "hand.update"  # parameters no optimizer holds changed after their backward (`p.data.add_(p.grad, ...)`); data: backward (its seq), params, of
NORM_RESET = "norm.reset"  # running statistics of a normalization layer reset after training began (update_bn)
MODEL_GRAPH = "model.graph"  # a forward's Dynamo graph; data: phase, source, graphs, breaks, note, modules, layers, dtypes
CHECKPOINT = "checkpoint.save"  # torch.save; data: target, path (absolute, for a file), model_tensors, optimizer, scaler, scheduler (counts)
OPTIMIZER_LOAD = "optimizer.load_state_dict"  # data: saved_at (seq at which this run took this state after training began: state_dict(), torch.save), source (absolute path of its file, when known)
SAMPLER_ORDER = "sampler.order"  # a shuffling sampler began a pass; data: prefix (first indices), sampler
RNG_SEED = "rng.seed"  # torch.manual_seed; data: seed
LOADER_DERIVED = "loader.derived"  # a framework built this loader from the script's (Accelerate's prepare); data: source
FRAMEWORK = "framework.limits"  # a framework's trainer got fxcheck's cut as its limits; data: framework, applied {name:
# value}, kept {name: the script's own value}, object (Trainer, Accelerator), accumulation, leaves_loaders (its passes are not cut by fxcheck)
DDP_WRAP = "ddp.wrap"  # a DistributedDataParallel wrapper was built (obj: the wrapper); data: module, previous (the wrapper
# built around this module before, if any), after_steps (optimizer steps done by then), params
DDP_FORWARD = "ddp.forward"  # a forward through a DDP wrapper; data: module, grad_enabled, sync (its backward all-reduces)

ALL_KINDS = (
    OBJECT_CREATED, LOADER_PASS, LOADER_BATCH, LOADER_END, NORM_RESET, HAND_UPDATE, BACKWARD, GRAD_SET, GRAD_CLEAR, OPTIMIZER_STEP, SCALER_SCALE,
    SCALER_UNSCALE, SCALER_STEP, SCALER_UPDATE, CLIP, SCHEDULER_STEP, MODULE_MODE, MODEL_FORWARD, MODEL_GRAPH,
    CHECKPOINT, OPTIMIZER_LOAD,
    SAMPLER_ORDER, RNG_SEED, FRAMEWORK, LOADER_DERIVED, DDP_WRAP, DDP_FORWARD,
)

class Of:
    """A list or an object whose every item is of one of the given types (a field's schema, see DATA below)."""

    def __init__(self, container: type, *items: type) -> None:
        self.container, self.items = container, frozenset(items)

    def holds(self, value: Any) -> bool:
        items = self.items
        return type(value) is self.container and all(
            type(x) in items for x in (value.values() if self.container is dict else value))


NUMBER = (float, int)  # a float written without a fraction reads back as an int
NAME = (str, type(None))


COUNTS = Of(dict, int)  # {optimizer key: parameters}
NAMES = Of(list, str)

# The types of the fields each kind's data holds, as capture writes them: a trace is read against this, so a
# value of another type (a count written as text) is a damaged trace, not a silently different verdict. A
# field missing is allowed (older traces lack newer fields); a field not listed is kept but never read.
DATA: dict[str, dict[str, Any]] = {
    OBJECT_CREATED: {},
    LOADER_PASS: {"index": int, "length": (int, type(None)), "cut": (int, type(None)), "batches": int, "training": bool,
                  "framework": bool, "frame": NAME, "augmented": COUNTS, "differenced": NAMES, "recorded": NAMES,
                  "divided_loss_sum": NUMBER, "loss_divisor": NUMBER, "locals_start": Of(dict, *NUMBER),
                  "locals_end": Of(dict, *NUMBER), "models_start": Of(dict, dict), "models_end": Of(dict, dict)},
    LOADER_BATCH: {"index": int},
    LOADER_END: {"pass": int, "reason": str, "batches": int},
    BACKWARD: {"scaled": bool, "touched": COUNTS, "inside_step": NAME, "divisor": NUMBER, "hand_updated": int,
               "orphans": int, "orphan_shapes": Of(list, list)},
    GRAD_SET: {"touched": COUNTS},
    GRAD_CLEAR: {"cleared": COUNTS, "dropped": COUNTS, "set_to_none": bool, "via": str},
    OPTIMIZER_STEP: {"via_scaler": NAME, "stale": int, "cleared": COUNTS, "touched": COUNTS, "checksum": str,
                     "checksum_step": int, "cleared_before_step": int, "closure": bool, "ddp_changed": Of(dict, dict),
                     "eval_mode_models": NAMES, "fresh": int, "frozen_updated": int, "lr": NUMBER, "modal_models": int,
                     "params": int, "state_edit": NAME, "state_size": int, "state_step": (int, type(None)),
                     "trainable": int},
    SCALER_SCALE: {"enabled": bool},
    SCALER_UNSCALE: {"optimizer": NAME, "internal": bool},
    SCALER_STEP: {"optimizer": NAME, "skipped": bool, "enabled": bool, "raised": str},
    SCALER_UPDATE: {"scale_before": (*NUMBER, type(None)), "scale_after": (*NUMBER, type(None))},
    CLIP: {"function": str, "optimizers": NAMES, "limit": (*NUMBER, type(None)), "hand": Of(dict, bool)},
    SCHEDULER_STEP: {"optimizer": NAME, "lr": Of(list, *NUMBER)},
    MODULE_MODE: {"training": bool},
    MODEL_FORWARD: {"training": bool, "grad_enabled": bool, "autocast": NAME, "phase": str, "held": bool,
                    "iterated_layers": int, "mode_layers": int, "recorded": bool, "stats_before": int,
                    "stats_after": int, "through": str, "train_layers": dict, "trained": bool, "unbuilt": NAMES},
    HAND_UPDATE: {"backward": int, "params": int, "of": int},
    NORM_RESET: {"layer": str},
    MODEL_GRAPH: {"phase": str, "source": str, "graphs": int, "breaks": NAMES, "note": NAME, "modules": COUNTS,
                  "layers": Of(list, dict), "dtypes": Of(dict, dict), "active_dropout": Of(list, dict),
                  "autocast": NAME, "backend": str, "ops": COUNTS, "seconds": (*NUMBER, type(None)), "training": bool},
    CHECKPOINT: {"target": str, "path": NAME, "via": str, "whole_module": bool, "model_tensors": int,
                 "optimizer_state": int, "scaler_state": int, "scheduler_state": int},
    OPTIMIZER_LOAD: {"saved_at": (int, type(None)), "source": NAME},
    SAMPLER_ORDER: {"prefix": Of(list, int), "sampler": str, "set_epoch": (int, type(None)), "shuffle": bool},
    RNG_SEED: {"seed": int},
    FRAMEWORK: {"framework": str, "applied": dict, "kept": dict, "object": str, "accumulation": (int, type(None)),
                "leaves_loaders": bool},
    LOADER_DERIVED: {"source": NAME},
    DDP_WRAP: {"module": NAME, "previous": NAME, "after_steps": int, "params": int},
    DDP_FORWARD: {"module": NAME, "grad_enabled": bool, "sync": bool},
}
# The attributes of each type of tracked object.
ATTRS: dict[str, dict[str, Any]] = {
    "optimizer": {"lr": (*NUMBER, type(None)), "params": int, "shares_stepped": COUNTS},
    "scaler": {"device": NAME, "enabled": bool, "init_scale": (*NUMBER, type(None))},
    "scheduler": {"optimizer": NAME},
    "loader": {"batch_size": (int, type(None)), "dataset": NAME, "default_order": bool, "drop_last": bool,
               "length": (int, type(None)), "sampler": NAME, "shuffle": bool},
    "model": {"part_of": NAME},
    "ddp": {"module": NAME},
}
# What a run's meta says about it, read by the reports and by a distributed run's merge.
META = {"script": NAME, "module": NAME, "args": Of(list, str), "cwd": NAME, "fxcheck": NAME, "torch": NAME,
        "python": NAME, "tracer": NAME, "status": NAME, "reason": NAME, "seconds": (*NUMBER, type(None)), "limits": dict,
        "loops": Of(list, dict), "rank": int, "ranks": int, "process_group": bool}

# Tracked object types.
OPTIMIZER = "optimizer"
SCALER = "scaler"
SCHEDULER = "scheduler"
LOADER = "loader"
MODEL = "model"


@dataclass(frozen=True)
class Site:
    """Where in the user's script something happened."""

    file: str | None = None
    line: int | None = None
    function: str | None = None

    def __str__(self) -> str:
        if self.file is None:
            return "<unknown>"
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Event:
    """One observed training operation, in happens-before order (seq)."""

    seq: int
    kind: str
    site: Site
    obj: str | None = None  # key of the object the event is about, e.g. "optimizer#1"
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "obj": self.obj, "data": self.data, **asdict(self.site)}


@dataclass(frozen=True)
class TrackedObject:
    """An optimizer, scaler, scheduler, loader or model seen during the run."""

    key: str  # "optimizer#1"
    type: str  # one of OPTIMIZER, SCALER, ...
    cls: str  # class name, e.g. "AdamW"
    site: Site  # where it was created
    attrs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "type": self.type, "cls": self.cls, "attrs": self.attrs, **asdict(self.site)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TrackedObject":
        site = Site(d.get("file"), d.get("line"), d.get("function"))
        return cls(str(d["key"]), str(d["type"]), str(d["cls"]), site, dict(d.get("attrs") or {}))
