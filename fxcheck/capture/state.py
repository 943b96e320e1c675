"""Hooks and readings for state that must persist: optimizer state, checkpoints, sample order, seeds."""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import sys
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.utils.data import RandomSampler
from torch.utils.data.distributed import DistributedSampler

from fxcheck import events as ev
from fxcheck.capture.looptracer import STATE_EDIT, LoopTracer
from fxcheck.capture.recorder import Recorder
from fxcheck.events import Site

ORDER_PREFIX = 32  # sample indices kept per pass to compare epochs' orders


def _number(value: Any) -> float | None:
    """An int, float or one-element CPU tensor without autograd, as a float (never a device sync)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.device.type == "cpu" and not value.requires_grad:
        return float(value.item())
    return None


MAX_ENTRIES = 32  # attributes of one object / entries of one dict read at a pass's start and end


def numeric_locals(frame: Any, is_user: Callable[[str], bool] = lambda path: False) -> dict[str, float]:
    """The numbers a frame holds: its locals, the numeric attributes of objects of the user's classes
    (`meter.sum`), and numeric entries of its dicts (`stats[loss]`): the values an accumulator takes."""
    out: dict[str, float] = {}
    if frame is None:
        return out
    for name, value in list(frame.f_locals.items()):
        if name.startswith("__"):
            continue
        number = _number(value)
        if number is not None:
            out[name] = number
        elif isinstance(value, dict):
            for key, item in list(value.items())[:MAX_ENTRIES]:
                if isinstance(key, str) and (number := _number(item)) is not None:
                    out[f"{name}[{key}]"] = number
        elif _user_class(type(value), is_user):
            _attributes(out, name, value, is_user, depth=1)
    return out


def _attributes(out: dict[str, float], prefix: str, obj: Any, is_user: Callable[[str], bool], depth: int) -> None:
    """Numeric attributes of an object of the user's classes, and of such objects it holds (a Trainer's
    `self.loss_meter.sum`), `depth` levels down."""
    for attr, item in list(getattr(obj, "__dict__", {}).items())[:MAX_ENTRIES]:
        if (number := _number(item)) is not None:
            out[f"{prefix}.{attr}"] = number
        elif depth and _user_class(type(item), is_user):
            _attributes(out, f"{prefix}.{attr}", item, is_user, depth - 1)


def _user_class(cls: type, is_user: Callable[[str], bool]) -> bool:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    return bool(path) and is_user(path)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _dotted(node: ast.AST) -> str | None:
    """`meter` or `self.loss_meter`: a name, or one attribute of a name, as the loop writes it."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def _accumulated(target: ast.AST) -> str | None:
    """The name an augmented assignment accumulates into: `total`, `meter.sum`, `stats[loss]`."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
            and isinstance(target.slice, ast.Constant) and isinstance(target.slice.value, str):
        return f"{target.value.id}[{target.slice.value}]"
    return _dotted(target)


@functools.lru_cache(maxsize=64)
def accumulator_facts(path: str) -> dict[int, dict[str, Any]]:
    """Per function of a file (by first line; 0 for the module): where each `name += ...` first is
    (also `obj.attr += ...` and `d["key"] += ...`), where each `obj.method(...)` is first called, and
    which names are read as a difference (`total - last_logged`, directly or through one assignment):
    a total read that way is cumulative on purpose."""
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[int, dict[str, Any]] = {}
    scopes = [(0, tree)] + [(n.lineno, n) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for first, scope in scopes:
        augmented: dict[str, int] = {}
        calls: dict[str, int] = {}  # object name -> first line calling one of its methods
        derived: dict[str, set[str]] = {}  # name -> names it was computed from
        subtracted: set[str] = set()
        for node in ast.walk(scope):
            if isinstance(node, ast.AugAssign) and (name := _accumulated(node.target)):
                augmented.setdefault(name, node.lineno)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        derived.setdefault(target.id, set()).update(_names(node.value))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
                subtracted |= _names(node.left) | _names(node.right)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (owner := _dotted(node.func.value)):
                calls[owner] = min(node.lineno, calls.get(owner, node.lineno))
        differenced = set(subtracted)
        for name in subtracted:
            differenced |= derived.get(name, set())
        found[first] = {"augmented": augmented, "calls": calls, "differenced": sorted(differenced)}
    return found


def accumulators_in(frame: Any, is_user: Callable[[str], bool] = lambda path: False) -> dict[str, Any]:
    """Where the frame's scope accumulates: its own `+=` lines, and for objects of the user's classes
    that it holds, the attributes their methods accumulate into (`self.sum += val` in a meter's
    update), located at the frame's first call of one of that object's methods."""
    if frame is None:
        return {}
    code = frame.f_code
    facts = accumulator_facts(code.co_filename).get(0 if code.co_name == "<module>" else code.co_firstlineno, {})
    if not facts:
        return {}
    augmented = dict(facts["augmented"])
    held: list[tuple[str, Any]] = []  # the objects the loop calls methods of, as it names them
    for name, value in list(frame.f_locals.items()):
        if name.startswith("__") or not _user_class(type(value), is_user):
            continue
        held.append((name, value))
        held.extend((f"{name}.{attr}", item) for attr, item in list(getattr(value, "__dict__", {}).items())[:MAX_ENTRIES]
                    if _user_class(type(item), is_user))
    for name, value in held:
        if name not in facts["calls"]:
            continue
        for target in _self_accumulated(type(value)):
            augmented.setdefault(f"{name}.{target}", facts["calls"][name])
    return {"augmented": augmented, "differenced": facts["differenced"]}


def _self_accumulated(cls: type) -> set[str]:
    """Attributes the class's own methods accumulate into (`self.sum += val`)."""
    found: set[str] = set()
    for method in vars(cls).values():
        code = getattr(method, "__code__", None)
        if code is not None:
            inner = accumulator_facts(code.co_filename).get(code.co_firstlineno, {})
            found |= {t[5:] for t in inner.get("augmented", {}) if t.startswith("self.")}
    return found


def optimizer_state_facts(opt: Any) -> dict[str, Any]:
    """What a step leaves in the optimizer: per-parameter state entries, the step count, the LR."""
    state = getattr(opt, "state", {}) or {}
    step = None
    for entry in state.values():
        value = entry.get("step") if isinstance(entry, dict) else None
        if isinstance(value, torch.Tensor):
            if value.device.type == "cpu" and value.numel() == 1:  # never sync a device tensor for this
                step = int(value.item())
            break
        if isinstance(value, (int, float)):
            step = int(value)
            break
    groups = getattr(opt, "param_groups", None) or [{}]
    lr = groups[0].get("lr")
    return {"state_size": len(state), "state_step": step,
            "lr": float(lr) if isinstance(lr, (int, float, torch.Tensor)) else None}


def describe_payload(obj: Any, depth: int = 0) -> dict[str, int]:
    """What a torch.save payload holds: model tensors, optimizer / scaler / scheduler states."""
    found = {"model_tensors": 0, "optimizer_state": 0, "scaler_state": 0, "scheduler_state": 0}
    if depth > 4:
        return found
    if isinstance(obj, nn.Module):
        found["model_tensors"] += sum(1 for _ in obj.state_dict().values())
    elif isinstance(obj, dict):
        keys = set(obj)
        if {"state", "param_groups"} <= keys:
            found["optimizer_state"] += 1
        elif {"scale", "growth_factor", "backoff_factor"} <= keys:
            found["scaler_state"] += 1
        elif "last_epoch" in keys and ("base_lrs" in keys or "_step_count" in keys or "best" in keys):
            found["scheduler_state"] += 1
        elif obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            found["model_tensors"] += len(obj)
        else:
            for value in obj.values():
                for k, n in describe_payload(value, depth + 1).items():
                    found[k] += n
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            for k, n in describe_payload(value, depth + 1).items():
                found[k] += n
    return found


def optimizer_states(obj: Any, depth: int = 0) -> list[tuple[dict, int]]:
    """The optimizer state dicts in a loaded payload, with their number of param groups."""
    if depth > 3:
        return []
    if isinstance(obj, dict):
        groups = obj.get("param_groups")
        if "state" in obj and isinstance(groups, list):
            return [(obj, len(groups))]
        return [found for value in obj.values() for found in optimizer_states(value, depth + 1)]
    if isinstance(obj, (list, tuple)):
        return [found for value in obj for found in optimizer_states(value, depth + 1)]
    return []


def optimizer_signature(state: dict) -> tuple:
    """What tells one optimizer state dict from another without reading its tensors: group count and
    learning rates, entry count and step counts (a copy, or the file read back, has the same)."""
    groups = state.get("param_groups") or []
    entries = state.get("state") or {}
    steps = []
    for entry in entries.values():
        step = entry.get("step") if isinstance(entry, dict) else None
        if isinstance(step, torch.Tensor) and step.numel() == 1:
            step = float(step)
        if isinstance(step, (int, float)):
            steps.append(float(step))
    lrs = tuple(round(float(g["lr"]), 12) if isinstance(g.get("lr"), (int, float)) else None
                for g in groups if isinstance(g, dict))
    return len(groups), lrs, len(entries), tuple(sorted(steps))


def file_path(f: Any) -> str | None:
    """The path torch.save / torch.load was given, also as an open file; None for a buffer."""
    for name in (f, getattr(f, "name", None)):
        if isinstance(name, (str, os.PathLike)):
            return os.fspath(name)
    return None


def save_target(f: Any) -> str:
    """Where torch.save wrote: the path, also of an open file; otherwise what it wrote into."""
    return file_path(f) or f"a {type(f).__name__} object"


def loss_divisor(tensors: Any, scaled: bool = False) -> float | None:
    """By how much the tensor given to backward was divided: `loss / 4` or `loss * 0.25` give 4.0.

    Read from the top of its autograd graph (a few scalar Div/Mul nodes; a GradScaler's Mul by the
    scale, a factor above 1, is passed through). 1.0: not divided; None: divided by something that
    cannot be read without a device sync (its value is then unknown). `scaled`: the tensor is a
    GradScaler's output, whose top Mul by the scale is passed over unread (on the GPU under CUDA AMP).
    """
    t = tensors if isinstance(tensors, torch.Tensor) else next(iter(tensors or ()), None)
    fn = t.grad_fn if isinstance(t, torch.Tensor) else None
    divisor = 1.0
    for i in range(4):
        name = type(fn).__name__ if fn is not None else ""
        if name not in ("DivBackward0", "MulBackward0"):
            break
        other = getattr(fn, "_saved_other", None)
        if not isinstance(other, torch.Tensor) or other.numel() != 1:
            break
        if other.device.type != "cpu":
            if i == 0 and scaled and name == "MulBackward0":
                fn = fn.next_functions[0][0] if fn.next_functions else None
                continue
            return None
        value = float(other.item())
        if name == "DivBackward0" and value > 1:
            divisor *= value
        elif name == "MulBackward0" and 0 < value < 1:
            divisor /= value
        fn = fn.next_functions[0][0] if fn.next_functions else None
    return divisor


def orphan_parameters(tensors: Any, held: Callable[[torch.Tensor], bool]) -> list[torch.Tensor]:
    """Parameters a backward will write gradients to that no optimizer holds (a walk of the autograd graph)."""
    items = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors or ())
    stack = [t.grad_fn for t in items if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    seen: set[int] = set()
    orphans: list[torch.Tensor] = []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        leaf = getattr(fn, "variable", None)  # AccumulateGrad nodes hold their leaf tensor
        if isinstance(leaf, nn.Parameter) and leaf.requires_grad and not held(leaf):
            orphans.append(leaf)
        stack.extend(nxt for nxt, _ in fn.next_functions if nxt is not None)
    return orphans


class StateHooks:
    """torch.save, Optimizer.load_state_dict, shuffling samplers and torch.manual_seed."""

    def __init__(self, rec: Recorder, tracer: LoopTracer, patch: Callable[[Any, str, Callable], None]) -> None:
        self.rec, self.tracer, self._patch = rec, tracer, patch
        self.sampler_loader: dict[int, str] = {}  # id(sampler) -> key of the loader using it
        # optimizer state dicts in the file torch.load read last: id -> (param group count, absolute path)
        self.loaded: dict[int, tuple[int, str]] = {}
        self._collect: list[dict[str, int]] = []  # framework checkpoints under way (Accelerate's save_state)
        # optimizer states this run took after training began (state_dict(), torch.save): signature ->
        # (seq of the event it was taken at, absolute path of the file it was saved into, or None)
        self.saved_states: dict[tuple, tuple[int, str | None]] = {}

    def install(self) -> None:
        rec = self.rec
        hooks = self

        def make_save(original: Any) -> Any:
            def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
                rec.check_stopped()
                facts = describe_payload(obj)
                result = original(obj, f, *args, **kwargs)
                path = file_path(f)
                if hooks._collect:
                    for k, n in facts.items():
                        hooks._collect[-1][k] = hooks._collect[-1].get(k, 0) + n
                    seq = len(rec.events) - 1
                else:
                    seq = hooks.checkpoint(f, facts, whole_module=isinstance(obj, nn.Module)).seq
                for state, _ in optimizer_states(obj):
                    hooks.saved_states[optimizer_signature(state)] = (seq, os.path.abspath(path) if path else None)
                return result

            return save

        def make_torch_load(original: Any) -> Any:
            def load(f: Any, *args: Any, **kwargs: Any) -> Any:
                result = original(f, *args, **kwargs)
                path = file_path(f)
                if path:
                    hooks.loaded = {id(d): (n, os.path.abspath(path)) for d, n in optimizer_states(result)}
                return result

            return load

        def make_state_dict(original: Any) -> Any:
            def state_dict(self: Any) -> Any:
                result = original(self)
                if rec.step_calls and isinstance(result, dict) and result.get("state"):
                    hooks.saved_states.setdefault(optimizer_signature(result), (len(rec.events) - 1, None))
                return result

            return state_dict

        def make_load(original: Any) -> Any:
            def load_state_dict(self: Any, state_dict: Any) -> Any:
                rec.check_stopped()
                facts: dict[str, Any] = {}
                if isinstance(state_dict, dict):
                    saved = hooks.saved_states.get(optimizer_signature(state_dict))
                    n, source = hooks.loaded.get(id(state_dict), (None, None))
                    groups = state_dict.get("param_groups")
                    if saved is not None:  # a state this run took (read back from its file, or a copy)
                        facts = {"saved_at": saved[0], **({"source": saved[1]} if saved[1] else {})}
                    elif source is not None and isinstance(groups, list) and len(groups) == n:
                        facts = {"source": source}  # an optimizer state torch.load just read from this file
                result = original(self, state_dict)
                rec.emit(ev.OPTIMIZER_LOAD, rec.key_of(self), **facts)
                return result

            return load_state_dict

        def make_order(original: Any) -> Any:
            def __iter__(self: Any) -> Any:
                return hooks._recorded(self, original(self))

            return __iter__

        def make_seed(original: Any) -> Any:
            def manual_seed(seed: Any) -> Any:
                result = original(seed)
                rec.emit(ev.RNG_SEED, None, seed=int(seed) if isinstance(seed, int) else str(seed))
                return result

            return manual_seed

        self._patch(torch, "save", make_save)
        self._patch(torch, "load", make_torch_load)
        self._patch(torch.optim.Optimizer, "load_state_dict", make_load)
        self._patch(torch.optim.Optimizer, "state_dict", make_state_dict)
        self._patch(RandomSampler, "__iter__", make_order)
        self._patch(DistributedSampler, "__iter__", make_order)
        self._patch(torch, "manual_seed", make_seed)

    @contextlib.contextmanager
    def collecting(self) -> Iterator[dict[str, int]]:
        """Inside a framework's checkpoint: its torch.save calls add up to one checkpoint (their payload
        facts summed here) instead of being checkpoints of their own."""
        facts: dict[str, int] = {}
        self._collect.append(facts)
        try:
            yield facts
        finally:
            self._collect.remove(facts)

    def checkpoint(self, f: Any, facts: dict[str, Any], **data: Any) -> Any:
        """Record one checkpoint written to `f` (a path, an open file or a buffer) holding `facts`."""
        path = file_path(f)
        return self.rec.emit(ev.CHECKPOINT, None, target=save_target(f),
                             **({"path": os.path.abspath(path)} if path else {}), **data, **facts)

    def _recorded(self, sampler: Any, inner: Any) -> Any:
        """Yield the sampler's indices unchanged, keeping the first few of this pass."""
        prefix: list[int] = []
        emitted = False
        for index in inner:
            if not emitted:
                prefix.append(int(index))
                if len(prefix) == ORDER_PREFIX:
                    self._order(sampler, prefix)
                    emitted = True
            yield index
        if not emitted and prefix:
            self._order(sampler, prefix)

    def _order(self, sampler: Any, prefix: list[int]) -> None:
        self.rec.emit(ev.SAMPLER_ORDER, self.sampler_loader.get(id(sampler)), sampler=type(sampler).__name__,
                      prefix=list(prefix), shuffle=bool(getattr(sampler, "shuffle", True)),
                      set_epoch=getattr(sampler, "epoch", None))

    def state_edit_site(self) -> Site | None:
        """Where the user's script last replaced or cleared an optimizer's state by hand, if it did."""
        edit = self.tracer.take_edit(STATE_EDIT)
        return Site(self.rec._show(edit[0]), edit[1], None) if edit else None
