"""The TorchDynamo backend: the trained model's forward graph, once in training and once in evaluation.

The first forward of a trained model in each phase is run through ``torch.compile`` with a backend
that reads the graph and then runs it as it is (eagerly), so the numbers, the RNG stream and the
BatchNorm buffers are those of the plain forward. Graphs the script compiles itself are read by
wrapping the script's own backend, which still compiles them. Dynamo's own errors never reach the
script: a forward Dynamo cannot trace runs eagerly and the report says why.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import weakref
from collections import Counter
from typing import Any, Callable

import torch

from fxcheck import events as ev
from fxcheck.capture.modes import is_mode_dependent
from fxcheck.capture.recorder import Recorder

TRAIN, EVAL = "train", "eval"

# normalization ops as they appear in a Dynamo graph (functional and torch-level spellings)
_NORM_OPS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
             "native_layer_norm", "native_batch_norm", "_native_batch_norm_legit"}
_DROPOUT_OPS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
_OP_ARGS = {  # position of (training, running_mean) in each op's signature
    "batch_norm": (5, 1), "instance_norm": (5, 1),
    "dropout": (2, None), "dropout1d": (2, None), "dropout2d": (2, None), "dropout3d": (2, None),
    "alpha_dropout": (2, None), "feature_alpha_dropout": (2, None),
}


def _is_compiling() -> bool:
    check = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling
    return bool(check())


def _op_name(node: Any) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _arg(node: Any, name: str, position: int | None) -> Any:
    if name in node.kwargs:
        return node.kwargs[name]
    if position is not None and position < len(node.args):
        return node.args[position]
    return None


def graph_facts(gm: Any) -> dict[str, Any]:
    """What a Dynamo graph ran: modules, ops, normalization and dropout (with their training flag), dtypes."""
    modules: dict[str, str] = {}  # module path -> class name
    ops: Counter[str] = Counter()
    dtypes: dict[str, Counter[str]] = {}
    layers: dict[tuple[str, str, bool, bool], set[str]] = {}  # (kind, class, training, running stats) -> paths
    dropping: list[dict[str, Any]] = []  # dropout that runs whatever the owning module's mode
    for node in gm.graph.nodes:
        if node.op not in ("call_function", "call_method", "call_module"):
            continue
        name = _op_name(node)
        ops[name] += 1
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        for path, cls in stack:
            modules[str(path)] = getattr(cls, "__name__", str(cls))
        value = node.meta.get("example_value")
        dtype = getattr(value, "dtype", None)
        if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
            dtypes.setdefault(str(dtype).removeprefix("torch."), Counter())[name] += 1
        path, cls = stack[-1] if stack else ("", None)
        active = _active_dropout(node, name, cls)
        if active is not None and len(dropping) < 10:
            dropping.append({"op": name, "type": getattr(cls, "__name__", None) or (str(cls) if cls else None),
                             "path": _module_path(str(path)), "p": active})
        if name in _NORM_OPS or name in _DROPOUT_OPS:
            training_at, stats_at = _OP_ARGS.get(name, (None, None))
            training = _arg(node, "training", training_at) if training_at is not None else None
            if name in _DROPOUT_OPS and training is None:
                training = True  # F.dropout's default
            stats = stats_at is not None and _arg(node, "running_mean", stats_at) is not None
            owner = getattr(cls, "__name__", None) or name
            kind = "dropout" if name in _DROPOUT_OPS else "norm"
            layers.setdefault((kind, owner, training, stats), set()).add(str(path) or f"{name}#{ops[name]}")
        elif name == "_transformer_encoder_layer_fwd":  # eval fast path: both LayerNorms run inside the fused op
            layers.setdefault(("norm", "LayerNorm", None, False), set()).update({f"{path}.norm1", f"{path}.norm2"})
    inventory = [{"kind": kind, "type": owner, "training": training, "running_stats": stats, "count": len(paths)}
                 for (kind, owner, training, stats), paths in sorted(layers.items(), key=str)]
    types = Counter(modules.values())
    return {"ops": dict(ops), "modules": dict(sorted(types.items())), "layers": inventory,
            "dtypes": {d: dict(c.most_common()) for d, c in sorted(dtypes.items())}, "active_dropout": dropping}


def _active_dropout(node: Any, name: str, owner: Any) -> float | None:
    """The probability of a dropout the graph runs on, not from a dropout module's own switch: a functional
    dropout with training=True inside another module, or an attention kernel given dropout_p > 0."""
    if name == "scaled_dot_product_attention":
        p = _arg(node, "dropout_p", 4)
    elif name in _DROPOUT_OPS:
        if _arg(node, "training", _OP_ARGS[name][0]) is False or _dropout_module(owner):
            return None  # off, or a Dropout layer switched to training mode on purpose (MC dropout)
        p = _arg(node, "p", 1)
        p = 0.5 if p is None else p
    else:
        return None
    return float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0 else None


def _module_path(path: str) -> str:
    """`L['self'].blocks[0].attn` (Dynamo's spelling) as `blocks.0.attn`, relative to the compiled module."""
    path = re.sub(r"^L\['[^']+'\]\.?", "", path)  # the compiled callable: `self`, or the module compiled
    return re.sub(r"\[['\"]?([^\]'\"]+)['\"]?\]", r".\1", path).lstrip(".")


def _dropout_module(owner: Any) -> bool:
    if isinstance(owner, type):
        return issubclass(owner, torch.nn.modules.dropout._DropoutNd)
    return str(owner).rsplit(".", 1)[-1] in _DROPOUT_MODULES


_DROPOUT_MODULES = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"}


def merge(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """One forward's facts from the graphs Dynamo split it into."""
    ops: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    dtypes: dict[str, Counter[str]] = {}
    layers: Counter[tuple] = Counter()
    dropping: list[dict[str, Any]] = []
    for f in facts:
        dropping.extend(f["active_dropout"][:10 - len(dropping)])
        ops.update(f["ops"])
        modules.update(f["modules"])
        for d, c in f["dtypes"].items():
            dtypes.setdefault(d, Counter()).update(c)
        for layer in f["layers"]:
            layers[(layer["kind"], layer["type"], layer["training"], layer["running_stats"])] += layer["count"]
    return {"ops": dict(ops), "modules": dict(sorted(modules.items())),
            "layers": [{"kind": k, "type": t, "training": tr, "running_stats": rs, "count": n}
                       for (k, t, tr, rs), n in sorted(layers.items(), key=str)],
            "dtypes": {d: dict(c.most_common()) for d, c in sorted(dtypes.items())}, "active_dropout": dropping}


def _autocast() -> str | None:
    for device in ("cuda", "cpu"):
        try:
            if torch.is_autocast_enabled(device):
                return str(torch.get_autocast_dtype(device)).removeprefix("torch.")
        except (AttributeError, RuntimeError, TypeError):
            continue
    return None


def _break_reasons(before: dict[str, int]) -> list[str]:
    from torch._dynamo.utils import counters

    reasons = []
    for reason, n in counters["graph_break"].items():
        if n > before.get(reason, 0):
            reasons.append(reason.strip().splitlines()[0])
    return reasons


class _Quiet:
    """Dynamo's warnings (graph breaks, fallbacks) belong in the report, not on the script's stderr.

    With its logs silenced, Dynamo still works out, for each line it traces, the qualified name of the
    function around it, for a debug log line that is never shown: it tokenizes every source file it
    traces through to do so (torch's own modules, thousands of lines each), a quarter of a second of
    a small model's capture. That lookup answers "unknown" while the logs are off."""

    NAMES = ("torch._dynamo", "torch._inductor", "torch.fx.experimental.symbolic_shapes")

    def __enter__(self) -> None:
        self._levels = [(lg, lg.level) for lg in map(logging.getLogger, self.NAMES)]
        for lg, _ in self._levels:
            lg.setLevel(logging.CRITICAL + 1)
        from torch._dynamo import symbolic_convert

        self._funcname = getattr(symbolic_convert, "get_funcname", None)
        if self._funcname is not None:
            symbolic_convert.get_funcname = _no_funcname

    def __exit__(self, *exc: Any) -> None:
        for lg, level in self._levels:
            lg.setLevel(level)
        if self._funcname is not None:
            from torch._dynamo import symbolic_convert

            symbolic_convert.get_funcname = self._funcname


def _no_funcname(filename: str, lineno: int) -> None:
    return None


def _script_backend(inner: Any, on_graph: Callable[[Any, Any], None]) -> Callable[..., Any]:
    """The script's own backend, wrapped: its graphs are read, then it compiles them as it would have.

    A plain function carrying the inner backend's name and config (Dynamo's C frame evaluator does
    not accept every callable object as a backend).
    """
    if isinstance(inner, str):
        from torch._dynamo.backends.registry import lookup_backend

        inner = lookup_backend(inner)

    def backend(gm: Any, example_inputs: Any, **kwargs: Any) -> Any:
        on_graph(inner, gm)
        return inner(gm, example_inputs, **kwargs)

    for name in ("compiler_name", "get_compiler_config", "reset", "backend_ctx_ctor"):
        if hasattr(inner, name):
            setattr(backend, name, getattr(inner, name))
    return backend


def mode_layers(model: Any) -> tuple[list[Any], list[Any]]:
    """The model's mode-dependent layers, and those of them that keep running statistics."""
    modal = [m for m in model.modules() if is_mode_dependent(m)]
    norms = [m for m in modal if isinstance(getattr(m, "num_batches_tracked", None), torch.Tensor)]
    return modal, norms


def power_iterated(model: Any) -> list[tuple[str, Any, str]]:
    """The model's layers whose state a training-mode forward builds: spectral norm's power-iteration
    vector u, as (layer, holder, buffer name). The hook-based `spectral_norm` starts u random and only
    updates it in training mode; `parametrizations.spectral_norm` iterates at construction. Either way
    u's version counts its writes (a loaded checkpoint writes it too)."""
    from torch.nn.utils.parametrizations import _SpectralNorm
    from torch.nn.utils.spectral_norm import SpectralNorm

    found = []
    for name, m in model.named_modules():
        label = name or type(m).__name__
        for hook in m._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm):
                found.append((f"{label}.{hook.name}", m, f"{hook.name}_u"))
        for tensor, chain in (getattr(m, "parametrizations", None) or {}).items():
            found.extend((f"{label}.{tensor}", param, "_u") for param in chain if isinstance(param, _SpectralNorm))
    return found


def unwritten(iterated: list[tuple[str, Any, str]]) -> list[str]:
    """Of the power-iterated layers, those whose u was never written since it was drawn at random."""
    return [label for label, holder, name in iterated
            if isinstance(u := getattr(holder, name, None), torch.Tensor) and u._version == 0]


def train_layers(modal: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in modal:
        if m.training:
            counts[type(m).__name__] = counts.get(type(m).__name__, 0) + 1
    return counts


def stats_version(norms: list[Any]) -> int:
    """A counter of running-statistics writes: num_batches_tracked.add_(1) bumps its version with each."""
    return sum(m.num_batches_tracked._version for m in norms if isinstance(m.num_batches_tracked, torch.Tensor))


def _grad_tensors(output: Any) -> list[torch.Tensor]:
    """Tensors of a forward's output that autograd recorded (a tensor, a tuple or a dict of them; one level)."""
    if isinstance(output, torch.Tensor):
        items = [output]
    elif isinstance(output, (tuple, list)):
        items = list(output[:8])
    elif isinstance(output, dict):  # also transformers' ModelOutput
        items = list(output.values())[:8]
    else:
        items = []
    return [t for t in items if isinstance(t, torch.Tensor) and t.grad_fn is not None]


def mark_trained(output: Any, data: dict[str, Any]) -> None:
    """Note in the forward's event whether autograd recorded it and, later, whether a backward went through it.

    A pre-hook on the output's autograd node runs when a backward reaches it; it returns nothing, so the
    gradients are those of the plain run. The hook holds the event's data, never the tensor.
    """
    tensors = _grad_tensors(output)
    data["recorded"] = bool(tensors)

    def reached(grad_outputs: Any) -> None:
        data["trained"] = True

    for fn in {id(t.grad_fn): t.grad_fn for t in tensors}.values():
        fn.register_prehook(reached)


class GraphCapture:
    """Captures the graph of each trained model's forward in training and in evaluation."""

    def __init__(self, rec: Recorder, trained: Callable[[Any], bool], evaluating: Callable[[], bool],
                 enabled: bool = True, tracer: Any = None) -> None:
        self.rec = rec
        self.tracer = tracer  # the loop tracer: paused while Dynamo (pure Python, no user lines) compiles
        self.trained = trained  # does an optimizer hold this model's parameters?
        self.evaluating = evaluating  # is an evaluation loader pass under way?
        self.enabled = enabled
        self._undo: list[Callable[[], None]] = []
        self._patched: set[type] = set()
        self._watched: dict[int, tuple[weakref.ref, str]] = {}
        self._done: set[tuple[str, str]] = set()  # (model key, phase) captured or given up
        self._trained: set[str] = set()  # models known to have parameters in an optimizer
        self._not_held: dict[str, int] = {}  # model -> objects known when no optimizer held its parameters
        self._parameters: dict[str, bool] = {}  # model -> has parameters (an EMA copy, a teacher) or not (a loss)
        self._layers: dict[str, tuple[list[Any], list[Any]]] = {}  # model -> (mode-dependent layers, running-stats norms)
        self._iterated: dict[str, list[tuple[str, Any, str]]] = {}  # model -> its power-iterated layers
        self._train_forwards: set[str] = set()  # models that ran a forward in training mode
        self._busy = False
        self._depth = 0  # watched forwards under way (a submodule's forward inside its model's is not another)
        self._called: set[str] = set()  # watched models whose forward ran
        self._children_watched = False
        self.through: dict[int, str] = {}  # id(module) -> the DDP wrapper whose forward is running it

    def install(self) -> None:
        if self.enabled:
            original = torch._dynamo.optimize
            torch._dynamo.optimize = functools.wraps(original)(self._wrap_optimize(original))
            self._undo.append(lambda: setattr(torch._dynamo, "optimize", original))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def watch(self, key: str, model: Any) -> None:
        """Follow a model's forwards through a class-level wrapper (copies and pickles of it stay plain)."""
        if isinstance(model, torch._dynamo.eval_frame.OptimizedModule):
            model = model._orig_mod  # its graphs come through the script's own backend
        if id(model) in self._watched:
            return
        self._watched[id(model)] = (weakref.ref(model), key)
        cls = type(model)
        if cls in self._patched:
            return
        self._patched.add(cls)
        own = vars(cls).get("forward")  # None when inherited: then the wrapper shadows it until uninstall
        original = cls.forward
        capture = self

        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            if _is_compiling() or capture._busy or capture._depth:
                return original(self, *args, **kwargs)  # compiling, or inside a watched model's forward
            capture._depth += 1
            try:
                return capture.forward(original, self, args, kwargs)
            finally:
                capture._depth -= 1

        setattr(cls, "forward", functools.wraps(original)(forward))
        self._undo.append(lambda: setattr(cls, "forward", own) if own is not None else delattr(cls, "forward"))

    def watch_uncalled_children(self) -> None:
        """After the first optimizer step: a trained model whose own forward never ran is used through its
        parts (Lightning-style `training_step` calling `self.net(x)`): follow its children instead."""
        if self._children_watched:
            return
        self._children_watched = True
        for ref, key in list(self._watched.values()):
            model = ref()
            if model is None or key in self._called:
                continue
            for name, child in model.named_children():
                if next(iter(child.parameters()), None) is not None:
                    self.watch(self.rec.key_of(child) or self.rec.register(child, ev.MODEL, {"part_of": key}), child)

    # -- forwards of watched models -------------------------------------------------------------
    def forward(self, original: Any, model: Any, args: tuple, kwargs: dict) -> Any:
        watched = self._watched.get(id(model))
        if watched is None or watched[0]() is not model:
            return original(model, *args, **kwargs)
        key = watched[1]
        self._called.add(key)
        held = key in self._trained or self._held(key, model)
        if not held and not self._has_parameters(key, model):
            return original(model, *args, **kwargs)  # a loss module: no model of the run
        grad = torch.is_grad_enabled()
        phase = TRAIN if model.training and grad and not self.evaluating() else EVAL
        autocast = _autocast()
        layers = self._layers.get(key)
        if layers is None:
            layers = self._layers[key] = mode_layers(model)
        modal, norms = layers
        facts: dict[str, Any] = {"training": bool(model.training), "grad_enabled": grad, "autocast": autocast,
                                 "phase": phase, "mode_layers": len(modal), "held": held}
        if self.through:
            facts["through"] = self.through.get(id(model))
        if modal and not model.training:  # which layers a helper switched back to training mode
            facts["train_layers"] = train_layers(modal)
        iterated = self._iterated.get(key)
        if iterated is None:
            iterated = self._iterated[key] = power_iterated(model)
        if iterated:
            facts["iterated_layers"] = len(iterated)
            if model.training:
                self._train_forwards.add(key)
            elif key not in self._train_forwards:  # u never written: neither iterated nor loaded
                facts["unbuilt"] = unwritten(iterated)[:10]
        if norms:
            facts["stats_before"] = stats_version(norms)
        event = self.rec.emit(ev.MODEL_FORWARD, key, **facts)
        if not held or not self.enabled or (key, phase) in self._done:
            result = original(model, *args, **kwargs)
        else:
            self._done.add((key, phase))
            result = self._capture(key, phase, autocast, original, model, args, kwargs)
        if norms:
            event.data["stats_after"] = stats_version(norms)
        mark_trained(result, event.data)
        return result

    def _held(self, key: str, model: Any) -> bool:
        """Does an optimizer hold this model's parameters? (re-asked only when new objects were built)"""
        known = len(self.rec.objects)
        if self._not_held.get(key) == known:
            return False
        if self.trained(model):
            self._trained.add(key)
            return True
        self._not_held[key] = known
        return False

    def forget_untrained(self) -> None:
        self._not_held.clear()

    def _has_parameters(self, key: str, model: Any) -> bool:
        if key not in self._parameters:
            self._parameters[key] = next(iter(model.parameters()), None) is not None
        return self._parameters[key]

    def _capture(self, key: str, phase: str, autocast: str | None, original: Any, model: Any,
                 args: tuple, kwargs: dict) -> Any:
        from torch._dynamo.utils import counters

        graphs: list[dict[str, Any]] = []

        def backend(gm: Any, example_inputs: Any) -> Any:
            graphs.append(graph_facts(gm))
            return gm.forward  # run the captured graph as it is

        before = dict(counters["graph_break"])
        site = self.rec.site()
        started = time.perf_counter()
        self._busy = True
        resume = self.tracer is not None and not self.tracer.paused
        if resume:
            self.tracer.pause()
        try:
            with _Quiet(), torch._dynamo.config.patch(suppress_errors=True, optimize_ddp=False):
                compiled = torch.compile(original.__get__(model), backend=backend, dynamic=False)
                result = compiled(*args, **kwargs)
        finally:
            self._busy = False
            if resume:
                self.tracer.resume()
        seconds = time.perf_counter() - started
        breaks = _break_reasons(before)
        note = None
        if not graphs:
            note = "Dynamo could not trace this forward; it ran eagerly (facts from module state only)"
        elif breaks:
            note = f"Dynamo split the forward into {len(graphs)} graphs (graph breaks)"
        self.rec.emit(ev.MODEL_GRAPH, key, site, phase=phase, source="fxcheck", autocast=autocast,
                      training=bool(model.training),
                      graphs=len(graphs), breaks=breaks[:5], note=note, seconds=round(seconds, 3),
                      **(merge(graphs) if graphs else {}))
        return result

    # -- graphs the script compiles itself ---------------------------------------------------------
    def _wrap_optimize(self, original: Any) -> Any:
        capture = self

        def optimize(*args: Any, **kwargs: Any) -> Any:
            if capture._busy:
                return original(*args, **kwargs)
            if args:
                args = (_script_backend(args[0], capture._script_graph), *args[1:])
            else:
                kwargs["backend"] = _script_backend(kwargs.get("backend", "inductor"), capture._script_graph)
            return original(*args, **kwargs)

        return optimize

    def _script_graph(self, backend: Any, gm: Any) -> None:
        name = getattr(backend, "compiler_name", None) or getattr(backend, "__name__", None) or type(backend).__name__
        phase = EVAL if not torch.is_grad_enabled() or self.evaluating() else TRAIN
        self.rec.emit(ev.MODEL_GRAPH, None, phase=phase, source="script", backend=str(name), autocast=_autocast(),
                      graphs=1, breaks=[], note=None, seconds=None, **graph_facts(gm))
