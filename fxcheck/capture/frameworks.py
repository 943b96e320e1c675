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

import torch

from fxcheck import events as ev
from fxcheck.capture.recorder import Recorder

LIGHTNING_TRAINERS = ("lightning.pytorch.trainer.trainer", "pytorch_lightning.trainer.trainer")
ACCELERATOR = "accelerate.accelerator"
HF_TRAINER = "transformers.trainer"


def inner_optimizer(opt: Any) -> Any:
    """The torch optimizer a framework's wrapper drives (Lightning's LightningOptimizer keeps it as
    `_optimizer`, Accelerate's AcceleratedOptimizer as `optimizer`), or the object itself."""
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
                 on_fit: Callable[[bool, bool], None], loaders: Any, state: Any) -> None:
        self.rec, self._patch = rec, patch
        # told (True, leaves_loaders) when a framework starts driving the loop, (False, ...) when it returns
        self.on_fit = on_fit
        self.loaders, self.state = loaders, state  # the LoaderTracker and the StateHooks (torch.save)
        self._watch: _ImportWatch | None = None
        self._building = 0  # > 0 while a framework builds its own parts (HF's Trainer its Accelerator)

    def install(self) -> None:
        callbacks: dict[str, Callable[[Any], None]] = {name: self._lightning for name in LIGHTNING_TRAINERS}
        callbacks[ACCELERATOR] = self._accelerate
        callbacks[HF_TRAINER] = self._transformers
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

        self._patch(trainer_cls, "__init__", make_init)
        self._drives_loop(trainer_cls, "fit", lambda trainer: getattr(trainer, "_fxcheck_limited", False))

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
                if fw._building:
                    return  # a part of a framework that says what it does itself
                fw.rec.emit(ev.FRAMEWORK, None, framework="accelerate", object="Accelerator", applied={}, kept={},
                            accumulation=k if isinstance(k, int) else 1, leaves_loaders=False)

            return __init__

        def make_prepare(original: Any) -> Any:
            def prepare_data_loader(self: Any, data_loader: Any, *args: Any, **kwargs: Any) -> Any:
                prepared = original(self, data_loader, *args, **kwargs)
                fw.loaders.derive(getattr(prepared, "base_dataloader", prepared), data_loader)
                return prepared

            return prepare_data_loader

        self._patch(cls, "__init__", make_init)
        self._patch(cls, "prepare_data_loader", make_prepare)
        self._one_checkpoint(cls, "save_state", "accelerator.save_state", lambda acc, location: location,
                             lambda acc: getattr(acc, "_models", ()))

    def _one_checkpoint(self, cls: Any, name: str, via: str, target: Callable[[Any, Any], Any],
                        models: Callable[[Any], Any]) -> None:
        """A framework's checkpoint method: the torch.save calls it makes are parts of one checkpoint
        (their payload facts summed), written to `target(self, result)`; model weights it writes as
        safetensors are counted from `models(self)`."""
        fw = self

        def make(original: Any) -> Any:
            def save(obj: Any, *args: Any, **kwargs: Any) -> Any:
                fw.rec.check_stopped()
                with fw.state.collecting() as facts:
                    result = original(obj, *args, **kwargs)
                fw.state.checkpoint(target(obj, result), _with_weights(facts, models(obj)), via=via)
                return result

            return save

        self._patch(cls, name, make)

    def _drives_loop(self, cls: Any, name: str, leaves_loaders: Callable[[Any], bool]) -> None:
        """A framework method that runs the loop from the user's line (fit, train): events it makes
        itself are put at the user's hooks; one given the cut as its limits cuts its own passes."""
        fw = self

        def make(original: Any) -> Any:
            def run(obj: Any, *args: Any, **kwargs: Any) -> Any:
                leaves = leaves_loaders(obj)
                fw.on_fit(True, leaves)
                try:
                    return original(obj, *args, **kwargs)
                finally:
                    fw.on_fit(False, leaves)

            return run

        self._patch(cls, name, make)

    # -- Hugging Face Trainer -------------------------------------------------------------------
    def _transformers(self, module: Any) -> None:
        """HF's Trainer builds its own DataLoaders (over Accelerate, whose prepare links them) and
        accumulates gradients itself: its gradient_accumulation_steps align the cut before the first
        step, num_train_epochs becomes E+1 (its schedule is then sized for the run it makes; fxcheck
        stops it after the first step of epoch E+1), and `_save_checkpoint` is one checkpoint."""
        cls = getattr(module, "Trainer", None)
        if cls is None or not all(name in vars(cls) for name in ("__init__", "_save_checkpoint", "train")):
            return
        fw = self

        def make_init(original: Any) -> Any:
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                fw._building += 1
                try:
                    original(self, *args, **kwargs)
                finally:
                    fw._building -= 1
                fw._limit_transformers(self)

            return __init__

        def checkpoint_dir(trainer: Any, result: Any) -> str:
            root = getattr(getattr(trainer, "args", None), "output_dir", None) or "."
            return f"{root}/checkpoint-{getattr(getattr(trainer, 'state', None), 'global_step', None)}"

        self._patch(cls, "__init__", make_init)
        self._one_checkpoint(cls, "_save_checkpoint", "Trainer._save_checkpoint", checkpoint_dir,
                             lambda trainer: [trainer.model])
        self._drives_loop(cls, "train", lambda trainer: False)  # its loaders stay fxcheck's to cut

    def _limit_transformers(self, trainer: Any) -> None:
        args = getattr(trainer, "args", None)
        if args is None:
            return
        limits = self.rec.limits
        k = args.gradient_accumulation_steps if isinstance(getattr(args, "gradient_accumulation_steps", None), int) else 1
        applied, kept = {}, {}
        epochs = getattr(args, "num_train_epochs", None)
        max_steps = getattr(args, "max_steps", -1)
        if isinstance(max_steps, int) and max_steps > 0:
            kept["max_steps"] = max_steps  # decides the epochs: kept (fxcheck stops the run at its limits)
        elif isinstance(epochs, (int, float)) and epochs > limits.epochs + 1:
            args.num_train_epochs = limits.epochs + 1
            applied["num_train_epochs"] = limits.epochs + 1
        else:
            kept["num_train_epochs"] = epochs
        self.rec.emit(ev.FRAMEWORK, None, framework="transformers", object="Trainer", applied=applied, kept=kept,
                      accumulation=k, leaves_loaders=False)


def _with_weights(saved: dict[str, int], models: Any) -> dict[str, int]:
    """Payload facts of a framework checkpoint; model weights written outside torch.save (safetensors)
    counted from the models themselves."""
    found = dict(saved)
    if not found.get("model_tensors"):
        found["model_tensors"] = sum(len(m.state_dict()) for m in models)
    return found
