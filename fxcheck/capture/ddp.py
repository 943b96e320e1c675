"""DistributedDataParallel facts: wrappers built, forwards through them (and whether their backward
all-reduces), and, in a rank of a distributed run, checksums of the stepped parameters.

DDP decides at forward time whether the next backward all-reduces (`require_backward_grad_sync`,
which `no_sync()` turns off), so each forward through a wrapper records that decision. The module a
wrapper holds is followed as the run's model; its forwards carry the wrapper they ran through
(GraphCapture.through), so a forward of the raw module is told apart from one through its wrapper.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import Any, Callable

import torch

from fxcheck import events as ev
from fxcheck.capture.recorder import Recorder

DDP = "ddp"  # the tracked object type of a DistributedDataParallel wrapper


def wrapper_class() -> type | None:
    """torch's DistributedDataParallel, where this torch build has torch.distributed."""
    if not torch.distributed.is_available():
        return None
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel


def checksum_due(n: int) -> bool:
    """After which optimizer steps a rank reads its parameters' checksum: 1, 2, 4, 8 and every 8th, so
    a few times per epoch and the same steps on every rank."""
    return n & (n - 1) == 0 or n % 8 == 0


_BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def checksum(params: list[torch.Tensor]) -> str:
    """A checksum of the parameters' exact bits (read only): equal on two ranks only when every
    parameter is bitwise equal, up to a hash collision."""
    sums = []
    with torch.no_grad():
        for p in params:
            t = p.detach().reshape(-1)
            bits = _BITS.get(t.element_size()) if t.is_floating_point() else None
            if bits is not None:
                t = t.contiguous().view(bits)
            sums.append(t.sum(dtype=torch.int64) if t.numel() else torch.zeros((), dtype=torch.int64, device=t.device))
        values = torch.stack([s.to("cpu") for s in sums]).tolist() if sums else []
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


def _layout(module: torch.nn.Module) -> dict[str, tuple[int, int, str, str]]:
    """Each parameter's identity and storage: what a replacement or a conversion changes."""
    return {name: (id(p), p.data_ptr(), str(p.dtype), str(p.device)) for name, p in module.named_parameters()}


class DDPHooks:
    """Hooks on DistributedDataParallel's constructor and forward."""

    def __init__(self, rec: Recorder, patch: Callable[[Any, str, Callable[[Any], Any]], None],
                 note_model: Callable[[str, Any], None], through: dict[int, str]) -> None:
        self.rec, self._patch, self._note_model, self.through = rec, patch, note_model, through
        self._wrapped: dict[int, str] = {}  # id(module) -> key of the latest wrapper built around it
        self._layouts: dict[str, tuple[weakref.ref, dict[str, tuple[int, int, str, str]]]] = {}

    def install(self) -> None:
        cls = wrapper_class()
        if cls is None:
            return
        hooks = self

        def make_init(original: Any) -> Any:
            def __init__(self: Any, module: Any, *args: Any, **kwargs: Any) -> None:
                original(self, module, *args, **kwargs)
                hooks._built(self, module)

            return __init__

        def make_forward(original: Any) -> Any:
            def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
                return hooks._forward(original, self, args, kwargs)

            return forward

        self._patch(cls, "__init__", make_init)
        self._patch(cls, "forward", make_forward)

    def _built(self, wrapper: Any, module: Any) -> None:
        module_key = self.rec.key_of(module) or self.rec.register(module, ev.MODEL, {})
        previous = self._wrapped.get(id(module))
        key = self.rec.register(wrapper, DDP, {"module": module_key})
        self._wrapped[id(module)] = key
        self._layouts[key] = (weakref.ref(module), _layout(module))
        self.rec.emit(ev.DDP_WRAP, key, module=module_key, previous=previous,
                      after_steps=sum(self.rec.step_calls.values()),
                      params=sum(1 for _ in module.parameters()))
        self._note_model(module_key, module)

    def _forward(self, original: Any, wrapper: Any, args: tuple, kwargs: dict) -> Any:
        key = self.rec.key_of(wrapper)
        if key is None:  # built before the run began
            self._built(wrapper, wrapper.module)
            key = self.rec.key_of(wrapper)
        grad = torch.is_grad_enabled()
        self.rec.emit(ev.DDP_FORWARD, key, module=self.rec.key_of(wrapper.module), grad_enabled=grad,
                      sync=bool(grad and wrapper.require_backward_grad_sync))
        inner = id(wrapper.module)
        outer = self.through.get(inner)
        self.through[inner] = key
        try:
            return original(wrapper, *args, **kwargs)
        finally:
            if outer is None:
                self.through.pop(inner, None)
            else:
                self.through[inner] = outer

    def changed_since_wrapped(self) -> dict[str, dict[str, list[str]]]:
        """For each wrapper: the parameters of its module replaced, or converted (new storage, dtype or
        device), since the wrapper was built; DDP's gradient hooks do not follow either."""
        found: dict[str, dict[str, list[str]]] = {}
        for key, (ref, before) in self._layouts.items():
            module = ref()
            if module is None or self._wrapped.get(id(module)) != key:
                continue
            now = _layout(module)
            replaced = [n for n, facts in now.items() if n not in before or before[n][0] != facts[0]]
            converted = [n for n, facts in now.items() if n in before and before[n][0] == facts[0]
                         and before[n][1:] != facts[1:]]
            if replaced or converted:
                found[key] = {"replaced": replaced[:5], "converted": converted[:5]}
        return found
