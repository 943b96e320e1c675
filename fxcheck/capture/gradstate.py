"""Gradient bookkeeping judged from state: each parameter's ``.grad`` identity and version.

Reading state rather than recognising calls covers every way of clearing gradients
(``optimizer.zero_grad``, ``set_to_none``, ``Module.zero_grad``, ``p.grad = None``,
``p.grad.zero_()``) and every way of producing them (backward inside or outside a closure,
a gradient assigned by hand).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

# Per-parameter record, a list for speed: [snapshot, first_touch, last_touch, last_clear, optimizer keys]
# snapshot: (id(grad), grad._version) or None; *_touch / last_clear: event seq numbers (-1: before tracking).
SNAP, FIRST, LAST, CLEARED, OPTS = range(5)

# What happened to the gradients since the previous observation.
BACKWARD = "backward"  # changes were made by a backward pass
CLEARING_API = "clearing_api"  # changes were made by a zero_grad-like call: they clear
KNOWN_SCALING = "known_scaling"  # changes were made by unscale_/clip/an optimizer step: no clearing
UNEXPLAINED = "unexplained"  # anything else: read the values to tell a clearing from an edit


def _is_zero(grad: torch.Tensor) -> bool:
    with torch.no_grad():
        values = grad._values() if grad.is_sparse else grad
        return not bool(values.any())


class GradState:
    """Tracks the gradients of every optimizer's parameters between observation points."""

    def __init__(self) -> None:
        self._optimizers: dict[str, tuple[weakref.ref, list]] = {}  # key -> (opt ref, [n_groups, params])
        self._params: dict[int, list] = {}  # id(param) -> record
        self._refs: dict[int, weakref.ref] = {}  # id(param) -> weak reference (to drop dead ones)
        self.last_step: dict[str, int] = {}  # optimizer key -> seq of its latest step
        # per optimizer: gradients produced since its latest step that a clearing threw away (taken by the hooks)
        self.dropped: dict[str, int] = {}

    def add_optimizer(self, key: str, optimizer: torch.optim.Optimizer) -> None:
        self._optimizers[key] = (weakref.ref(optimizer), [-1, []])
        self._refresh(key)

    def _refresh(self, key: str) -> list:
        """The optimizer's parameters, re-read only when its param_groups change in number."""
        ref, cache = self._optimizers[key]
        opt = ref()
        if opt is None:
            return []
        groups = opt.param_groups
        if cache[0] != len(groups):
            params = [p for g in groups for p in g["params"]]
            cache[0], cache[1] = len(groups), params
            for p in params:
                rec = self._params.get(id(p))
                if rec is None or self._refs[id(p)]() is not p:
                    grad = p.grad
                    had = grad is not None
                    snap = (id(grad), grad._version) if had else None
                    # -1: gradients present before tracking began; -3: never
                    rec = [snap, -1 if had else None, -1 if had else -3, -3, ()]
                    self._params[id(p)] = rec
                    self._refs[id(p)] = weakref.ref(p)
                if key not in rec[OPTS]:
                    rec[OPTS] = rec[OPTS] + (key,)
        return cache[1]

    def optimizer_keys(self) -> list[str]:
        return [k for k, (ref, _) in self._optimizers.items() if ref() is not None]

    def params_of(self, key: str) -> list:
        return self._refresh(key) if key in self._optimizers else []

    def holds(self, p: Any) -> bool:
        """Is this parameter held by an optimizer seen so far?"""
        ref = self._refs.get(id(p))
        return ref is not None and ref() is p

    def optimizers_of(self, p: Any) -> tuple[str, ...]:
        return self._params[id(p)][OPTS] if self.holds(p) else ()

    def owners(self, params: list) -> list[str]:
        """Keys of the optimizers holding any of these parameters."""
        found: list[str] = []
        for p in params:
            rec = self._params.get(id(p))
            if rec is not None:
                for k in rec[OPTS]:
                    if k not in found:
                        found.append(k)
        return found

    def observe(self, seq: int, cause: str) -> tuple[dict[str, int], dict[str, int]]:
        """Compare every tracked gradient with its last snapshot.

        Returns (touched, cleared): per optimizer key, how many of its parameters received
        gradients / had them cleared since the previous observation. ``seq`` is the event the
        changes are attributed to.
        """
        touched: dict[str, int] = {}
        cleared: dict[str, int] = {}
        to_read: list[tuple[list, Any]] = []
        seen: set[int] = set()  # a parameter shared by two optimizers is read once
        for key in list(self._optimizers):
            for p in self._refresh(key):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                rec = self._params[id(p)]
                grad = p.grad
                snap = None if grad is None else (id(grad), grad._version)
                if snap == rec[SNAP]:
                    continue
                before = rec[SNAP]
                rec[SNAP] = snap
                if cause == KNOWN_SCALING:
                    continue
                if snap is None:
                    self._clear(rec, seq, cleared)
                elif cause == BACKWARD:
                    _touch(rec, seq, touched)
                elif cause == CLEARING_API:
                    self._clear(rec, seq, cleared)
                else:
                    to_read.append((rec, (grad, before)))
        for rec, (grad, before) in to_read:
            if _is_zero(grad):
                self._clear(rec, seq, cleared)
            elif before is None or before[0] != id(grad):
                _touch(rec, seq, touched)  # a gradient assigned by hand
        return touched, cleared

    def _clear(self, rec: list, seq: int, cleared: dict[str, int]) -> None:
        unstepped = rec[LAST] > rec[CLEARED]
        rec[FIRST] = None
        rec[CLEARED] = seq
        for k in rec[OPTS]:
            cleared[k] = cleared.get(k, 0) + 1
            if unstepped and rec[LAST] > self.last_step.get(k, -2):
                self.dropped[k] = self.dropped.get(k, 0) + 1

    def take_dropped(self) -> dict[str, int]:
        dropped, self.dropped = self.dropped, {}
        return dropped

    def cycle_facts(self, key: str) -> dict[str, int]:
        """For the optimizer about to step: the state of the gradients it will consume.

        fresh: parameters whose gradients were produced since its previous step and not cleared since;
        stale: of those, gradients that began accumulating before the previous step;
        cleared: parameters that got gradients this cycle but had them cleared afterwards;
        frozen_updated: parameters with requires_grad off whose gradients an earlier step consumed.
        """
        prev = self.last_step.get(key, -2)
        fresh = stale = cleared = trainable = frozen_updated = 0
        for p in self._refresh(key):
            rec = self._params[id(p)]
            last = rec[LAST]
            if p.requires_grad:
                trainable += 1
            elif last != -3 and last <= prev:
                frozen_updated += 1
            if last <= prev:
                continue
            if rec[CLEARED] > last:
                cleared += 1
                continue
            fresh += 1
            if rec[FIRST] is not None and rec[FIRST] < prev:
                stale += 1
        return {"fresh": fresh, "stale": stale, "cleared": cleared, "params": len(self._refresh(key)),
                "trainable": trainable, "frozen_updated": frozen_updated}


def _touch(rec: list, seq: int, touched: dict[str, int]) -> None:
    if rec[FIRST] is None:
        rec[FIRST] = seq
    rec[LAST] = seq
    for k in rec[OPTS]:
        touched[k] = touched.get(k, 0) + 1



