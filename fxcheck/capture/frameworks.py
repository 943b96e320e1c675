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
                 on_fit: Callable[[bool], None]) -> None:
        self.rec, self._patch = rec, patch
        self.on_fit = on_fit  # told True when a limited framework starts fitting, False when it returns
        self._watch: _ImportWatch | None = None

    def install(self) -> None:
        callbacks = {name: self._lightning for name in LIGHTNING_TRAINERS}
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
