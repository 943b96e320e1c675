"""Training frameworks: their own limits carry fxcheck's cut, so the framework stays consistent with itself.

A framework that drives the loop (Lightning's Trainer) is recognised by the objects the script creates,
never by reading the script: when its module is imported, its constructor is wrapped. A Trainer built
during the run gets fxcheck's limits as its own (`limit_train_batches`, `limit_val_batches`,
`max_epochs`: E+1, fxcheck stopping the fit after the first step of epoch E+1), and the
loader passes it runs while fitting are left to it: fxcheck neither cuts them nor changes their
`len()`. The facts go into one `framework.limits` event, which the report's Loop section shows.
Anything else (an unknown wrapper) falls back to the generic loop model.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Any, Callable

from fxcheck import events as ev
from fxcheck.capture.recorder import Recorder

LIGHTNING_TRAINERS = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
ACCELERATOR = "accelerate.accelerator"


def inner_optimizer(opt: Any) -> Any:
    """The torch optimizer a framework's wrapper drives (Lightning's LightningOptimizer keeps it as
    `_optimizer`, Accelerate's AcceleratedOptimizer as `optimizer`), or the object itself."""
    import torch

    for _ in range(4):
        held = vars(opt) if hasattr(opt, "__dict__") else {}
        inner = next((v for v in (held.get("_optimizer"), held.get("optimizer"))
                      if isinstance(v, torch.optim.Optimizer) and v is not opt), None)
        if inner is None:
            return opt
        opt = inner
    return opt


class _ImportWatch(importlib.abc.MetaPathFinder):
    """Calls back when a watched module has been executed (imported), once per module."""

    def __init__(self, callbacks: dict[str, Callable[[Any], None]]) -> None:
        self.callbacks = callbacks

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        callback = self.callbacks.get(fullname)
        if callback is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        loader, exec_module = spec.loader, spec.loader.exec_module

        def exec_and_call(module: Any) -> None:
            exec_module(module)
            callback(module)

        loader.exec_module = exec_and_call  # this loader object serves this one module only
        return spec


class Frameworks:
    """Wraps the constructors of the frameworks the script imports (or had imported before the run)."""

    def __init__(self, rec: Recorder, patch: Callable[[Any, str, Callable[[Any], Any]], None],
                 on_fit: Callable[[bool], None], loaders: Any, state: Any) -> None:
        self.rec, self._patch = rec, patch
        self.on_fit = on_fit  # told True when a limited framework starts fitting, False when it returns
        self.loaders, self.state = loaders, state  # the LoaderTracker and the StateHooks (torch.save)
        self._watch: _ImportWatch | None = None

    def install(self) -> None:
        callbacks: dict[str, Callable[[Any], None]] = {name: self._lightning for name in LIGHTNING_TRAINERS}
        callbacks[ACCELERATOR] = self._accelerate
        for name in list(callbacks):
            if name in sys.modules:  # imported before the run (a pytest suite, a notebook)
                callbacks.pop(name)(sys.modules[name])
        self._watch = _ImportWatch(callbacks)
        sys.meta_path.insert(0, self._watch)

    def uninstall(self) -> None:
        if self._watch is not None and self._watch in sys.meta_path:
            sys.meta_path.remove(self._watch)
        self._watch = None

    # -- Lightning ------------------------------------------------------------------------------
    def _lightning(self, module: Any) -> None:
        trainer_cls = getattr(module, "Trainer", None)
        if trainer_cls is None or "__init__" not in vars(trainer_cls) or "fit" not in vars(trainer_cls):
            return
        fw = self

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                fw._limit_lightning(self)

            return __init__

        def make_fit(original: Any) -> Any:
            def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
                limited = getattr(self, "_fxcheck_limited", False)
                if limited:
                    fw.on_fit(True)
                try:
                    return original(self, *args, **kwargs)
                finally:
                    if limited:
                        fw.on_fit(False)

            return fit

        self._patch(trainer_cls, "__init__", make_init)
        self._patch(trainer_cls, "fit", make_fit)

    def _limit_lightning(self, trainer: Any) -> None:
        """Give the Trainer fxcheck's cut as its own limits: --steps batches per epoch (whole accumulation
        cycles; Lightning steps on an epoch's last batch anyway) and --val-steps per evaluation."""
        limits = self.rec.limits
        k = trainer.accumulate_grad_batches if isinstance(getattr(trainer, "accumulate_grad_batches", None), int) else 1
        wanted = {"limit_train_batches": k * max(1, limits.steps // k), "limit_val_batches": limits.val_steps}
        applied, kept = {}, {}
        for name, value in wanted.items():
            current = getattr(trainer, name, None)
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                kept[name] = repr(current)
            elif isinstance(current, float) and current != 1.0:
                kept[name] = current  # a fraction of the loader: its length is not known yet
            elif isinstance(current, int) and current <= value:
                kept[name] = current  # the script's own limit is already within the cut
            else:
                setattr(trainer, name, value)
                applied[name] = value
        if "limit_train_batches" in kept and isinstance(kept["limit_train_batches"], float):
            # the generic cut stays in charge of the loaders (the fraction applies to its len())
            self.rec.emit(ev.FRAMEWORK, None, framework="lightning", applied=applied, kept=kept,
                          accumulation=k, leaves_loaders=False)
            return
        # E epochs and the first step of the next: the trainer plans for E+1 (schedules sized from
        # trainer.estimated_stepping_batches see the run it will make); fxcheck stops it after that step
        loop = getattr(trainer, "fit_loop", None)
        epochs = getattr(loop, "max_epochs", None)
        if loop is not None and (not isinstance(epochs, int) or epochs < 0 or epochs > limits.epochs + 1):
            loop.max_epochs = limits.epochs + 1
            applied["max_epochs"] = limits.epochs + 1
        else:
            kept["max_epochs"] = epochs
        trainer._fxcheck_limited = True
        self.rec.emit(ev.FRAMEWORK, None, framework="lightning", applied=applied, kept=kept, accumulation=k,
                      leaves_loaders=True)

    # -- Accelerate -----------------------------------------------------------------------------
    def _accelerate(self, module: Any) -> None:
        """Accelerate has no batch limits of its own: fxcheck's cut stays on the loaders, which its
        `prepare` rebuilds (one loader to the cut with the script's, and its gradient_accumulation_steps
        known before the first step); `save_state` writes one checkpoint of everything it holds."""
        cls = getattr(module, "Accelerator", None)
        if cls is None or not all(name in vars(cls) for name in ("__init__", "prepare_data_loader", "save_state")):
            return
        fw = self

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                original(self, *args, **kwargs)
                k = getattr(self, "gradient_accumulation_steps", 1)
                fw.rec.emit(ev.FRAMEWORK, None, framework="accelerate", object="Accelerator", applied={}, kept={},
                            accumulation=k if isinstance(k, int) else 1, leaves_loaders=False)

            return __init__

        def make_prepare(original: Any) -> Any:
            def prepare_data_loader(self: Any, data_loader: Any, *args: Any, **kwargs: Any) -> Any:
                prepared = original(self, data_loader, *args, **kwargs)
                fw.loaders.derive(getattr(prepared, "base_dataloader", prepared), data_loader)
                return prepared

            return prepare_data_loader

        def make_save(original: Any) -> Any:
            def save_state(self: Any, *args: Any, **kwargs: Any) -> Any:
                fw.rec.check_stopped()
                fw.state.quiet += 1  # its torch.save calls are parts of this one checkpoint
                try:
                    location = original(self, *args, **kwargs)
                finally:
                    fw.state.quiet -= 1
                fw.state.checkpoint(location, accelerator_contents(self), via="accelerator.save_state")
                return location

            return save_state

        self._patch(cls, "__init__", make_init)
        self._patch(cls, "prepare_data_loader", make_prepare)
        self._patch(cls, "save_state", make_save)


def accelerator_contents(acc: Any) -> dict[str, int]:
    """What `Accelerator.save_state` writes, as torch.save payload facts: the prepared models' weights,
    optimizers, schedulers and scaler, and the objects registered for checkpointing."""
    import torch

    found = {"model_tensors": sum(len(m.state_dict()) for m in getattr(acc, "_models", ())),
             "optimizer_state": len(getattr(acc, "_optimizers", ())),
             "scheduler_state": len(getattr(acc, "_schedulers", ())),
             "scaler_state": int(getattr(acc, "scaler", None) is not None)}
    for obj in getattr(acc, "_custom_objects", ()):
        if isinstance(obj, torch.optim.lr_scheduler.LRScheduler):
            found["scheduler_state"] += 1
        elif isinstance(obj, torch.amp.GradScaler):
            found["scaler_state"] += 1
        elif isinstance(obj, torch.optim.Optimizer):
            found["optimizer_state"] += 1
    return found
