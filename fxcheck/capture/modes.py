"""Model modes read from state: which models a loop uses, their train/eval flags, BatchNorm statistics."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.dropout import _DropoutNd

def is_mode_dependent(m: nn.Module) -> bool:
    """Does this layer behave differently in train and eval mode? Dropout with p > 0, and normalization
    that keeps running statistics (one that does not uses the batch's statistics in both modes)."""
    if isinstance(m, _DropoutNd):
        return getattr(m, "p", 1) > 0
    return isinstance(m, _NormBase) and bool(m.track_running_stats)


def unwrap(module: nn.Module) -> nn.Module:
    """The model a data-parallel wrapper holds (its forwards say which wrapper they ran through)."""
    while isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        module = module.module
    return module


def models_in(frame: Any) -> list[nn.Module]:
    """The outermost modules a loop's frame holds (its locals, and the modules of `self`)."""
    if frame is None:
        return []
    found: dict[int, nn.Module] = {}
    values = list(frame.f_locals.values())
    owner = frame.f_locals.get("self")
    if owner is not None and not isinstance(owner, nn.Module) and hasattr(owner, "__dict__"):
        values.extend(vars(owner).values())
    for value in values:
        if isinstance(value, nn.Module):
            value = unwrap(value)
            found[id(value)] = value
    inner = {id(m) for root in found.values() for m in root.modules() if m is not root}
    return [m for i, m in found.items() if i not in inner]


def mode_facts(model: nn.Module) -> dict[str, Any]:
    """Mode of a model and its mode-dependent layers; a counter of BatchNorm running-statistics writes."""
    train_mode: dict[str, int] = {}
    layers = 0
    stats_version = 0
    for m in model.modules():
        if is_mode_dependent(m):
            layers += 1
            if m.training:
                train_mode[type(m).__name__] = train_mode.get(type(m).__name__, 0) + 1
            # the kernel writes running_mean in place without a version bump; num_batches_tracked.add_(1)
            # runs with every statistics update and does bump it
            tracked = getattr(m, "num_batches_tracked", None) if isinstance(m, _NormBase) else None
            if isinstance(tracked, torch.Tensor):
                stats_version += tracked._version
    return {"training": model.training, "mode_layers": layers, "train_mode": train_mode, "stats_version": stats_version}


def tensor_ids(frame: Any) -> dict[str, int]:
    """Which tensor each of the frame's names holds (to tell what a pass assigned)."""
    if frame is None:
        return {}
    return {name: id(value) for name, value in frame.f_locals.items() if isinstance(value, torch.Tensor)}


def recorded_tensors(frame: Any, before: dict[str, int]) -> list[str]:
    """Names the frame assigned since `before` whose tensors autograd recorded (they have a grad_fn)."""
    if frame is None:
        return []
    return sorted(name for name, value in frame.f_locals.items()
                  if isinstance(value, torch.Tensor) and value.grad_fn is not None and before.get(name) != id(value))
