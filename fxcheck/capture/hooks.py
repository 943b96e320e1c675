"""Reversible hooks on torch's training API; each reports an event to the recorder.

Every patch is recorded with its original and undone by ``uninstall``. Wrappers call the
original exactly as given, so what the user's script computes is unchanged; a call that
raises is recorded with the error and the error goes on to the user's script untouched.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Callable

import torch
from torch.optim import lr_scheduler
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.nn.modules.batchnorm import _NormBase
from torch.utils.data import DataLoader

from fxcheck import events as ev
from fxcheck.capture import gradstate as gs
from fxcheck.capture.loaders import LoaderTracker
from fxcheck.capture.ddp import DDPHooks, checksum, checksum_due
from fxcheck.capture.dynamo import GraphCapture
from fxcheck.capture.modes import is_mode_dependent, models_in, unwrap
from fxcheck.capture.looptracer import GRAD_EDIT, LoopTracer
from fxcheck.capture.recorder import Recorder, StopRun
from fxcheck.capture.frameworks import Frameworks, inner_optimizer
from fxcheck.capture.state import StateHooks, loss_divisor, optimizer_state_facts, orphan_parameters
from fxcheck.events import Site


def _changed(saved: list[tuple[weakref.ref, torch.Tensor]]) -> set[int]:
    """The ids of the live parameters whose value differs from the copy kept of them."""
    changed = set()
    with torch.no_grad():
        for ref, before in saved:
            p = ref()
            if p is not None and not (p.shape == before.shape and torch.equal(p.detach(), before)):
                changed.add(id(p))
    return changed


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _floats(values: Any) -> Any:
    try:
        return float(values)
    except (TypeError, ValueError):
        return None


HAND = "hand"  # the step counter of parameters updated by hand (no optimizer holds them)
WINDOW = 2  # optimizer cycles traced line by line at the start and at the end of each epoch


class Hooks:
    """Installs the torch API hooks for one run."""

    def __init__(self, rec: Recorder, tracer: LoopTracer) -> None:
        self.rec = rec
        self.tracer = tracer
        self.grads = gs.GradState()
        self.loaders = LoaderTracker(rec, self._window)
        self.state = StateHooks(rec, tracer, self._patch)
        self.frameworks = Frameworks(rec, self._patch, self._framework_fit, self.loaders, self.state)
        self._models: dict[str, tuple[weakref.ref, frozenset[int], bool]] = {}  # key -> (model, param ids, has modes)
        self._model_opt: dict[tuple[str, str], bool] = {}  # does this optimizer step that model's parameters?
        self.loaders.on_model = self._note_model
        self.graphs = GraphCapture(rec, self._trained, self.loaders.evaluating, enabled=rec.limits.graph,
                                   tracer=tracer)
        self.ddp = DDPHooks(rec, self._patch, self._note_model, self.graphs.through)
        self._undo: list[Callable[[], None]] = []
        self._steps: list[tuple[str, dict[str, int], int]] = []  # optimizer steps under way
        self._scaler_stepping: dict[int, str] = {}  # id(optimizer) -> key of the scaler stepping it
        self._scaled: weakref.WeakValueDictionary[int, torch.Tensor] = weakref.WeakValueDictionary()
        self._scaled_by: dict[int, weakref.ref] = {}  # id(scaled tensor) -> its GradScaler (checked with _scaled)
        self._depth: dict[str, int] = {"clip": 0, "sched": 0, "sched_init": 0, "train": 0}
        # parameters that got gradients while no optimizer holds them, and their values after the latest backward
        self._orphans: list[weakref.ref] = []
        self._snapshot: tuple[Any, list[tuple[weakref.ref, torch.Tensor]]] | None = None
        self._walked: list[tuple[Any, dict[int, list[int]]]] = []  # backwards that found orphans: id -> shape
        self._hand_trained: set[int] = set()  # ids of parameters seen updated by hand
        rec.between_cycles = self._hand_update

    def _framework_fit(self, started: bool, leaves_loaders: bool) -> None:
        """A framework began (or ended) driving the loop from the user's line; one carrying the cut as its
        own limits cuts its passes itself."""
        if leaves_loaders:
            self.loaders.framework += 1 if started else -1
        self.rec.enter_framework(started)

    # -- patching --------------------------------------------------------------------------
    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, functools.wraps(original)(make(original)))
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        self._hook_optimizers()
        self._hook_backward()
        self._hook_scaler()
        self._hook_clip()
        self._hook_schedulers()
        self._hook_loaders()
        self._hook_modules()
        self.state.install()
        self.graphs.install()
        self.frameworks.install()
        self.ddp.install()

    def uninstall(self) -> None:
        self._hand_update()
        self.frameworks.uninstall()
        self.graphs.uninstall()
        while self._undo:
            self._undo.pop()()

    # -- gradient observation ---------------------------------------------------------------
    def _observe(self, cause: str) -> None:
        """Look at the gradients; record clearings and hand-made gradients found since the last look."""
        edit = self.tracer.take_edit(GRAD_EDIT)
        seq = len(self.rec.events)
        touched, cleared = self.grads.observe(seq, cause)
        if cause in (gs.BACKWARD, gs.KNOWN_SCALING, gs.CLEARING_API) or not (touched or cleared):
            return
        site = self.rec.site() if edit is None else Site(self.rec._show(edit[0]), edit[1], None)
        if cleared:
            self.rec.emit(ev.GRAD_CLEAR, None, site, via="state", cleared=cleared, dropped=self.grads.take_dropped())
        if touched:
            self.rec.emit(ev.GRAD_SET, None, site, touched=touched)

    def _optimizer_key(self, opt: Any) -> str:
        opt = inner_optimizer(opt)  # a framework's wrapper is its optimizer
        key = self.rec.key_of(opt)
        if key is None:  # built before capture began
            key = self._register_optimizer(opt)
        return key

    def _register_optimizer(self, opt: Any) -> str:
        defaults = getattr(opt, "defaults", {}) or {}
        params = [p for g in opt.param_groups for p in g["params"]]
        # parameters an earlier optimizer has already stepped: their moments / momentum live there
        shares: dict[str, int] = {}
        for p in params:
            for other in self.grads.optimizers_of(p):
                if self.rec.step_calls.get(other):
                    shares[other] = shares.get(other, 0) + 1
        attrs = {"lr": _floats(defaults.get("lr")), "params": len(params), "shares_stepped": shares}
        key = self.rec.register(opt, ev.OPTIMIZER, attrs)
        self.grads.add_optimizer(key, opt)
        return key

    # -- optimizers --------------------------------------------------------------------------
    def _hook_optimizers(self) -> None:
        hooks = self

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                key = hooks._register_optimizer(self)
                hooks._note_models_of(key)

            return __init__

        self._patch(torch.optim.Optimizer, "__init__", make_init)

        pre = register_optimizer_step_pre_hook(self._before_step)
        post = register_optimizer_step_post_hook(self._after_step)
        self._undo.append(pre.remove)
        self._undo.append(post.remove)

        def make_zero_grad(original: Any) -> Any:
            def zero_grad(self: Any, set_to_none: bool = True) -> None:
                hooks.rec.check_stopped()
                original(self, set_to_none)
                hooks._cleared_by("optimizer.zero_grad", hooks._optimizer_key(self), set_to_none)

            return zero_grad

        self._patch(torch.optim.Optimizer, "zero_grad", make_zero_grad)

    def _cleared_by(self, via: str, obj: str | None, set_to_none: bool) -> None:
        self.tracer.take_edit(GRAD_EDIT)
        seq = len(self.rec.events)
        _, cleared = self.grads.observe(seq, gs.CLEARING_API)
        self.rec.emit(ev.GRAD_CLEAR, obj, via=via, set_to_none=bool(set_to_none), cleared=cleared,
                      dropped=self.grads.take_dropped())

    def _before_step(self, opt: Any, args: Any, kwargs: Any) -> None:
        self.rec.check_stopped()
        key = self._optimizer_key(opt)
        self._observe(gs.UNEXPLAINED)
        facts = self.grads.cycle_facts(key)
        edit = self.state.state_edit_site()
        if edit is not None:
            facts["state_edit"] = str(edit)
        self._steps.append((key, facts, self.rec.backward_count))

    def _after_step(self, opt: Any, args: Any, kwargs: Any) -> None:
        key, before, backwards = self._steps.pop()
        self.grads.observe(len(self.rec.events), gs.KNOWN_SCALING)
        closure = self.rec.backward_count > backwards  # backward ran inside step(), e.g. LBFGS
        facts = self.grads.cycle_facts(key) if closure else before
        n = self.rec.step_calls.get(key, 0) + 1
        due = self.rec.limits.rank and checksum_due(n)
        event = self.rec.emit(
            ev.OPTIMIZER_STEP, key,
            via_scaler=self._scaler_stepping.get(id(opt)), closure=closure,
            fresh=facts["fresh"], stale=0 if closure else facts["stale"], cleared_before_step=facts["cleared"],
            params=facts["params"], trainable=facts["trainable"], state_edit=before.get("state_edit"),
            **({"frozen_updated": facts["frozen_updated"]} if facts["frozen_updated"] else {}),
            **self._model_modes(key), **optimizer_state_facts(opt), **(self._rank_facts(opt, n) if due else {}),
        )
        self._stepped(key, event.seq)

    def _rank_facts(self, opt: Any, n: int) -> dict[str, Any]:
        """In a rank: the checksum of what this step left in the parameters (compared across ranks after the
        run), and the wrapped modules whose parameters changed under their DDP wrapper."""
        params = [p for group in inner_optimizer(opt).param_groups for p in group["params"]]
        facts: dict[str, Any] = {"checksum": checksum(params), "checksum_step": n}
        changed = self.ddp.changed_since_wrapped()
        if changed:
            facts["ddp_changed"] = changed
        return facts

    def _note_model(self, key: str, model: Any) -> None:
        if key not in self._models:
            has_modes = any(is_mode_dependent(m) for m in model.modules())
            self._models[key] = (weakref.ref(model), frozenset(id(p) for p in model.parameters()), has_modes)
            self.graphs.watch(key, model)

    def _note_models_of(self, opt_key: str) -> None:
        """The models the optimizer's creator holds whose parameters it steps (known before their first forward)."""
        params = {id(p) for p in self.grads.params_of(opt_key)}
        for model in models_in(self.rec.user_frame()):
            if any(id(p) in params for p in model.parameters()):
                self._note_model(self.rec.key_of(model) or self.rec.register(model, ev.MODEL, {}), model)

    def _trained(self, model: Any) -> bool:
        """Does an optimizer hold this model's parameters, or does the script update them by hand?"""
        return any(self.grads.holds(p) or id(p) in self._hand_trained for p in model.parameters())

    def _model_modes(self, opt_key: str) -> dict[str, Any]:
        """Of the known models with mode-dependent layers whose parameters this optimizer steps: how many,
        and which are in eval mode (a part put in eval mode inside a training model is not)."""
        found, modal = [], 0
        for key, (ref, params, has_modes) in self._models.items():
            model = ref()
            if model is None or not has_modes:
                continue
            pair = (key, opt_key)
            if pair not in self._model_opt:
                self._model_opt[pair] = any(id(p) in params for p in self.grads.params_of(opt_key))
            if not self._model_opt[pair]:
                continue
            modal += 1
            if not model.training and not self._part_of_training_model(key, params):
                found.append(key)
        return {"eval_mode_models": found, "modal_models": modal}

    def _part_of_training_model(self, key: str, params: frozenset[int]) -> bool:
        """Is this module a part of a known model in training mode (a backbone or BatchNorm put in eval
        mode on purpose while the rest trains)?"""
        for other, (ref, others, _) in self._models.items():
            model = ref()
            if other != key and model is not None and model.training and params < others:
                return True
        return False

    def _stepped(self, key: str, seq: int) -> None:
        self.tracer.training[0] = True
        self.loaders.note_step()
        self.grads.last_step[key] = seq
        self.rec.step_calls[key] = self.rec.step_calls.get(key, 0) + 1
        self.graphs.watch_uncalled_children()
        self._window()

    def _window(self) -> None:
        """Trace the loop's first and last cycles of each epoch and its boundaries; pause in between."""
        limits = self.rec.limits
        current = self.loaders.training_pass()
        if current is not None:
            p, accumulation = current
            tail = max(WINDOW, accumulation * WINDOW)
            quiet = p.steps >= WINDOW and p.cut is not None and p.yielded < p.cut - tail
        elif not self.rec.loop.training_lineage and self.rec.step_calls:
            done = max(self.rec.step_calls.values())
            quiet = WINDOW <= done < limits.steps - WINDOW
        else:
            quiet = False
        if quiet:
            self.tracer.pause()
        else:
            self.tracer.resume()

    # -- backward ------------------------------------------------------------------------------
    def _hook_backward(self) -> None:
        hooks = self

        def make(original: Any) -> Any:
            def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
                hooks.rec.on_backward()
                hooks._observe(gs.UNEXPLAINED)
                inside = hooks._steps[-1][0] if hooks._steps else None
                scaled = hooks._is_scaled(tensors)
                divisor = loss_divisor(tensors, scaled)
                event = hooks.rec.emit(ev.BACKWARD, None, scaled=scaled, inside_step=inside, divisor=divisor)
                if divisor and divisor > 1 and isinstance(tensors, torch.Tensor):
                    hooks.loaders.note_divided_loss(hooks._unscaled(tensors), divisor)
                if hooks._walk_graph():
                    orphans = orphan_parameters(tensors, hooks.grads.holds)
                    event.data["orphans"] = len(orphans)
                    event.data["orphan_shapes"] = [list(p.shape) for p in orphans[:4]]
                    if orphans:
                        hooks._orphans = [weakref.ref(p) for p in orphans]
                        hooks._walked.append((event, {id(p): list(p.shape) for p in orphans}))
                hooks.rec.backward_count += 1
                try:
                    return original(tensors, *args, **kwargs)
                except BaseException as exc:
                    event.data["raised"] = _error(exc)
                    raise
                finally:
                    touched, _ = hooks.grads.observe(event.seq, gs.BACKWARD)
                    event.data["touched"] = touched
                    hooks._snapshot_orphans(event)

            return backward

        self._patch(torch.autograd, "backward", make)

    def _snapshot_orphans(self, event: Any) -> None:
        """After a backward that wrote gradients no optimizer will use, keep those parameters' values."""
        if self._orphans:
            live = [(ref, p.detach().clone()) for ref in self._orphans if (p := ref()) is not None]
            self._snapshot = (event, live) if live else None

    def _hand_update(self) -> None:
        """Between cycles: did parameters no optimizer holds change since their backward? Then the
        script updates them by hand (`p.data.add_(p.grad, alpha=-lr)`): that ends a cycle, as a step does."""
        if self._snapshot is None:
            return
        event, saved = self._snapshot
        self._snapshot = None
        changed = _changed(saved)
        if not changed:
            return
        if not changed <= self._hand_trained:
            self._hand_trained |= changed
            self.graphs.forget_untrained()  # models it judged untrained may be trained by hand now
        for walked, shapes in self._walked:  # which of each walked backward's orphans are trained by hand
            untrained = [shape for i, shape in shapes.items() if i not in self._hand_trained]
            walked.data.update(hand_updated=len(shapes) - len(untrained), orphan_shapes=untrained[:4])
        update = self.rec.emit(ev.HAND_UPDATE, None, Site(), backward=event.seq, params=len(changed), of=len(saved))
        self._stepped(HAND, update.seq)

    def _hand_clip(self, held: list[torch.Tensor]) -> dict[str, bool] | None:
        """For a clip of parameters no optimizer holds: has the script already updated them by hand
        since their backward (then the clip comes too late, as after a step)?"""
        if self._snapshot is None:
            return None
        ids = {id(p) for p in held}
        saved = [(ref, before) for ref, before in self._snapshot[1] if id(ref()) in ids]
        return {"after_update": bool(_changed(saved))} if saved else None

    def _walk_graph(self) -> bool:
        """Walk the autograd graph (for parameters no optimizer holds) on the first backwards of each epoch."""
        if self.rec.backward_count < 2:
            return True
        current = self.loaders.training_pass()
        return current is not None and current[0].steps == 0

    def _unscaled(self, t: torch.Tensor) -> torch.Tensor:
        """The loss value before an enabled GradScaler multiplied it (no sync: a tensor division)."""
        scaler = self._scaled_by.get(id(t))
        scaler = scaler() if scaler is not None else None
        scale = getattr(scaler, "_scale", None)
        if self._scaled.get(id(t)) is t and isinstance(scale, torch.Tensor):
            return (t.detach().float() / scale.float()).reshape(())
        return t.detach()

    def _is_scaled(self, tensors: Any) -> bool:
        """Was the tensor given to backward produced by an enabled GradScaler's scale()?"""
        if not self._scaled:
            return False
        items = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors or ())
        scaled_fns = None
        for t in items:
            if not isinstance(t, torch.Tensor):
                continue
            if self._scaled.get(id(t)) is t:
                return True
            if scaled_fns is None:
                scaled_fns = {id(s.grad_fn) for s in self._scaled.values() if s.grad_fn is not None}
            # a loss derived from a scaled one (e.g. `scaler.scale(loss) / accum`): a short walk up autograd
            frontier, depth = [t.grad_fn], 0
            while frontier and depth < 4:
                if any(id(fn) in scaled_fns for fn in frontier if fn is not None):
                    return True
                frontier = [nxt for fn in frontier if fn is not None for nxt, _ in fn.next_functions]
                depth += 1
        return False

    # -- GradScaler ----------------------------------------------------------------------------
    def _hook_scaler(self) -> None:
        hooks = self
        rec = self.rec
        cls = torch.amp.GradScaler

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                attrs = {"enabled": bool(self.is_enabled()), "device": str(getattr(self, "_device", "")),
                         "init_scale": _floats(getattr(self, "_init_scale", None))}
                rec.register(self, ev.SCALER, attrs)

            return __init__

        def make_scale(original: Any) -> Any:
            def scale(self: Any, outputs: Any) -> Any:
                rec.check_stopped()
                result = original(self, outputs)
                if self.is_enabled():
                    if len(hooks._scaled_by) > 64:  # forget tensors that are gone
                        hooks._scaled_by = {k: v for k, v in hooks._scaled_by.items() if k in hooks._scaled}
                    for t in result if isinstance(result, (list, tuple)) else [result]:
                        if isinstance(t, torch.Tensor):
                            hooks._scaled[id(t)] = t
                            hooks._scaled_by[id(t)] = weakref.ref(self)
                rec.emit(ev.SCALER_SCALE, rec.key_of(self), enabled=bool(self.is_enabled()))
                return result

            return scale

        def make_unscale(original: Any) -> Any:
            def unscale_(self: Any, optimizer: Any) -> None:
                rec.check_stopped()
                data = {"optimizer": hooks._optimizer_key(optimizer), "internal": id(optimizer) in hooks._scaler_stepping}
                hooks._call(ev.SCALER_UNSCALE, rec.key_of(self), data, original, self, optimizer)
                hooks.grads.observe(len(rec.events), gs.KNOWN_SCALING)

            return unscale_

        def make_step(original: Any) -> Any:
            def step(self: Any, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
                rec.check_stopped()
                okey = hooks._optimizer_key(optimizer)
                before = rec.step_calls.get(okey, 0)
                hooks._scaler_stepping[id(optimizer)] = rec.key_of(self) or "scaler"
                data: dict[str, Any] = {"optimizer": okey, "enabled": bool(self.is_enabled())}
                try:  # skipped: the optimizer's step did not run (inf/NaN gradients)
                    result = hooks._call(ev.SCALER_STEP, rec.key_of(self), data, original, self, optimizer, *args,
                                         after=lambda: {"skipped": rec.step_calls.get(okey, 0) == before}, **kwargs)
                finally:
                    hooks._scaler_stepping.pop(id(optimizer), None)
                skipped = rec.step_calls.get(okey, 0) == before
                if skipped:  # inf/NaN gradients: the cycle ends without an update of the weights
                    hooks._stepped(okey, len(rec.events) - 1)
                return result

            return step

        def make_update(original: Any) -> Any:
            def update(self: Any, new_scale: Any = None) -> None:
                rec.check_stopped()
                data = {"scale_before": hooks._scale_of(self)}
                hooks._call(ev.SCALER_UPDATE, rec.key_of(self), data, original, self, new_scale,
                            after=lambda: {"scale_after": hooks._scale_of(self)})

            return update

        self._patch(cls, "__init__", make_init)
        self._patch(cls, "scale", make_scale)
        self._patch(cls, "unscale_", make_unscale)
        self._patch(cls, "step", make_step)
        self._patch(cls, "update", make_update)

    @staticmethod
    def _scale_of(scaler: Any) -> float | None:
        if not scaler.is_enabled():
            return None
        return _floats(scaler.get_scale())

    def _call(self, kind: str, obj: str | None, data: dict[str, Any], fn: Callable, *args: Any,
              after: Callable[[], dict[str, Any]] | None = None, **kwargs: Any) -> Any:
        """Call an original API function, then record its event (with the error if it raised)."""
        try:
            result = fn(*args, **kwargs)
        except StopRun:
            raise
        except BaseException as exc:
            data["raised"] = _error(exc)
            self.rec.emit(kind, obj, **data)
            raise
        if after is not None:
            data.update(after())
        self.rec.emit(kind, obj, **data)
        return result

    # -- gradient clipping -----------------------------------------------------------------
    def _hook_clip(self) -> None:
        hooks = self
        utils = torch.nn.utils
        clip_module = utils.clip_grad

        def make(original: Any) -> Any:
            name = original.__name__.lstrip("_")

            def clip(parameters: Any, *args: Any, **kwargs: Any) -> Any:
                if hooks._depth["clip"]:
                    return original(parameters, *args, **kwargs)
                hooks.rec.check_stopped()
                params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
                hooks._observe(gs.UNEXPLAINED)
                limit = args[0] if args else next(iter(kwargs.values()), None)
                # the optimizers whose gradients it clips: owners of the parameters that hold one (a frozen
                # encoder's optimizer has nothing clipped)
                held = [p for p in params if isinstance(p, torch.Tensor) and p.grad is not None]
                data = {"function": name, "optimizers": hooks.grads.owners(held), "limit": _floats(limit)}
                hand = hooks._hand_clip(held)
                if hand is not None:
                    data["hand"] = hand
                hooks._depth["clip"] += 1
                try:
                    return hooks._call(ev.CLIP, None, data, original, params, *args, **kwargs)
                finally:
                    hooks._depth["clip"] -= 1
                    hooks.grads.observe(len(hooks.rec.events), gs.KNOWN_SCALING)

            return clip

        for module in (utils, clip_module):
            for name in ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grads_with_norm_"):
                if name in vars(module):
                    self._patch(module, name, make)

    # -- LR schedulers -----------------------------------------------------------------------
    def _hook_schedulers(self) -> None:
        hooks = self
        rec = self.rec
        classes = {c for c in vars(lr_scheduler).values()
                   if inspect.isclass(c) and issubclass(c, lr_scheduler.LRScheduler)}

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                hooks._depth["sched_init"] += 1
                try:
                    original(self, *args, **kwargs)
                finally:
                    hooks._depth["sched_init"] -= 1
                if not hooks._depth["sched_init"]:
                    opt = getattr(self, "optimizer", None)
                    opt = inner_optimizer(opt) if opt is not None else None
                    rec.register(self, ev.SCHEDULER, {"optimizer": rec.key_of(opt) if opt is not None else None})

            return __init__

        def make_step(original: Any) -> Any:
            def step(self: Any, *args: Any, **kwargs: Any) -> Any:
                if hooks._depth["sched"] or hooks._depth["sched_init"]:
                    return original(self, *args, **kwargs)  # nested (chained schedulers) or the constructor's own step
                rec.check_stopped()
                opt = getattr(self, "optimizer", None)
                okey = rec.key_of(inner_optimizer(opt)) if opt is not None else None
                hooks._depth["sched"] += 1
                try:
                    return hooks._call(ev.SCHEDULER_STEP, rec.key_of(self), {"optimizer": okey}, original, self,
                                       *args, after=lambda: {"lr": _lrs(opt)}, **kwargs)
                finally:
                    hooks._depth["sched"] -= 1

            return step

        for cls in classes:
            if "__init__" in cls.__dict__:
                self._patch(cls, "__init__", make_init)
            if "step" in cls.__dict__:
                self._patch(cls, "step", make_step)

    # -- DataLoader ------------------------------------------------------------------------------
    def _hook_loaders(self) -> None:
        hooks = self
        tracker = self.loaders

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                tracker.created(self, args, kwargs)
                hooks.state.sampler_loader[id(self.sampler)] = hooks.rec.key_of(self)

            return __init__

        def make_iter(original: Any) -> Any:
            def __iter__(self: Any) -> Any:
                tracker.before_pass(self)
                return tracker.start_pass(self, original(self))

            return __iter__

        def make_len(original: Any) -> Any:
            def __len__(self: Any) -> int:
                return tracker.length(self, original(self))

            return __len__

        self._patch(DataLoader, "__init__", make_init)
        self._patch(DataLoader, "__iter__", make_iter)
        self._patch(DataLoader, "__len__", make_len)

    # -- modules ---------------------------------------------------------------------------------
    def _hook_modules(self) -> None:
        hooks = self
        rec = self.rec

        def make_train(original: Any) -> Any:
            def train(self: Any, mode: bool = True) -> Any:
                if hooks._depth["train"]:
                    return original(self, mode)  # children of the module being switched
                hooks._depth["train"] += 1
                try:
                    result = original(self, mode)
                finally:
                    hooks._depth["train"] -= 1
                model = unwrap(self)
                key = rec.key_of(model) or rec.register(model, ev.MODEL, {})
                hooks._note_model(key, model)
                rec.emit(ev.MODULE_MODE, key, training=bool(mode))
                return result

            return train

        def make_zero_grad(original: Any) -> Any:
            def zero_grad(self: Any, set_to_none: bool = True) -> None:
                rec.check_stopped()
                original(self, set_to_none)
                key = rec.key_of(self) or rec.register(self, ev.MODEL, {})
                hooks._cleared_by("module.zero_grad", key, set_to_none)

            return zero_grad

        def make_reset(original: Any) -> Any:
            def reset_running_stats(self: Any) -> None:
                original(self)
                if rec.step_calls:  # after training began: a recalibration (swa_utils.update_bn or by hand)
                    rec.emit(ev.NORM_RESET, None, layer=type(self).__name__)

            return reset_running_stats

        self._patch(torch.nn.Module, "train", make_train)
        self._patch(torch.nn.Module, "zero_grad", make_zero_grad)
        self._patch(_NormBase, "reset_running_stats", make_reset)


def _lrs(opt: Any) -> list[float | None]:
    if opt is None:
        return []
    return [_floats(g.get("lr")) for g in opt.param_groups]
