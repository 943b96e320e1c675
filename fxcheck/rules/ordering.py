"""FX1xx: the order of operations within an optimizer cycle (gradients, AMP, clipping, schedulers)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from fxcheck import events as ev
from fxcheck.graph import Cycle, cycles, enabled_scalers, events, involves, stepped_optimizers, training_passes, unfed_optimizers, where
from fxcheck.rules import Check, Occurrences, Rule, rule


def _most_common_site(evts: list[dict[str, Any]]) -> str:
    sites = Counter(where(e) for e in evts if e.get("file"))
    return sites.most_common(1)[0][0] if sites else "<unknown>"


def _clips(e: dict[str, Any], opt: str) -> bool:
    """A clip of this optimizer's gradients (a call with an infinite limit only measures the norm)."""
    if e["kind"] != ev.CLIP or opt not in (e["data"].get("optimizers") or ()):
        return False
    limit = e["data"].get("limit")
    return limit is None or limit != float("inf")


def _complete(cs: list[Cycle]) -> list[Cycle]:
    return [c for c in cs if c.end is not None]


@rule(
    id="FX101", name="stale-gradients", severity="error",
    summary="a backward accumulated into gradients left over from the previous optimizer step",
    what="""
Checks, for every optimizer step, whether the gradients it consumed began accumulating before the
previous step of the same optimizer, i.e. nothing cleared them in between (no `zero_grad`,
`set_to_none`, `Module.zero_grad` or `p.grad = None`), across epoch boundaries too. Judged from each
parameter's `.grad` identity and version, so every way of clearing counts. With gradient
accumulation it also flags an epoch's unstepped last micro-batches carried, uncleared, into the next
epoch's first step (judged only at the end of an epoch that ended like the real one).""",
    why="""
`backward()` adds to `.grad`. Without clearing, each step applies the sum of all gradients so far:
the effective learning rate grows every step and the updates point in stale directions.""",
    example="""
for x, y in loader:
    loss = loss_fn(model(x), y)
    loss.backward()          # adds to the previous batch's gradients
    optimizer.step()""",
    instead="""
for x, y in loader:
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()""",
    limits="""
Gradients kept on purpose across steps (rare research set-ups) are flagged too. Parameters held by
no optimizer are not watched (a model updated by hand is not judged). Steps that no gradient reached
(frozen parameters) are skipped. An epoch-end tail is judged only over a training DataLoader whose
`len()` is known, at the end of an epoch that ended like the real one.""",
    hint="clear gradients once per cycle (optimizer.zero_grad(set_to_none=True) before the forward or after the step); "
         "an epoch's unstepped tail needs a step on the epoch's last batch",
)
def stale_gradients(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    checked = 0
    clears = [e for e in events(g, ev.GRAD_CLEAR) if e["data"].get("cleared")]
    for opt in stepped_optimizers(g):
        for c in _complete(cycles(g, opt))[1:]:
            step = c.step_event
            if step is None or not (step["data"].get("fresh") or step["data"].get("stale")):
                continue  # no gradient reached this step (frozen parameters): nothing could be stale
            checked += 1
            stale = step["data"].get("stale", 0)
            if stale:
                backwards = c.touching(ev.BACKWARD)
                at = backwards[0] if backwards else step
                hits.add(f"backward at {where(at)} accumulated into gradients left over from {opt}'s previous step: "
                         f"{stale} of {step['data'].get('params')} parameters still held them at step {c.index} "
                         f"({where(step)}); nothing cleared them in between", at, c.index)
    leaks, judged = _leaked_epoch_tails(g)
    for opt, c, first in leaks:
        hits.add(f"gradients of the last {len([b for b in c.touching(ev.BACKWARD) if b['epoch'] < c.end['epoch']])} "
                 f"micro-batch(es) of epoch {first['epoch']} (from {where(first)}) were never stepped nor cleared and "
                 f"went into epoch {c.end['epoch']}'s first step at {where(c.end)}: that step mixes two epochs' data",
                 first, c.index)
    evidence = (f"gradients were cleared between consecutive steps in {checked}/{checked} cycles "
                f"(cleared at {_most_common_site(clears)})" if checked else
                "fewer than two optimizer steps that gradients reached observed" +
                (" (parameters updated by hand are not watched)" if events(g, ev.HAND_UPDATE) else ""))
    if judged:
        evidence += f"; no accumulation tail carried across {judged} judged epoch boundary(ies)"
    found = hits.findings()
    if found:
        evidence = f"{len(found)} place(s) accumulate into stale gradients over {checked} cycles checked"
    return r.result(found, evidence, applicable=checked > 0)


def _leaked_epoch_tails(g: nx.DiGraph) -> tuple[list[tuple[str, Cycle, dict[str, Any]]], int]:
    """Cycles whose backwards began in an earlier epoch than their step, with no clearing in between:
    an accumulation tail carried into the next epoch. Judged only at the end of epochs that ended the
    way the real one does (fxcheck's own cut never makes a tail)."""
    from fxcheck.rules.accumulation import judgeable

    by_epoch = {e["epoch"]: e for e in training_passes(g)}
    leaks, judged = [], set()
    for opt in stepped_optimizers(g):
        for c in _complete(cycles(g, opt)):
            began = c.events[0]["epoch"]
            if began is not None and c.end["epoch"] is not None and began >= c.end["epoch"]:
                continue  # the cycle lies within one epoch (coordinates never go back): no tail in it
            backwards = c.touching(ev.BACKWARD)
            if not backwards or c.end is None or c.end["epoch"] is None or backwards[0]["epoch"] >= c.end["epoch"]:
                continue
            first = backwards[0]
            owner = by_epoch.get(first["epoch"])
            if owner is None or not judgeable(g, owner):
                continue
            judged.add(first["epoch"])
            if not any(e["kind"] == ev.GRAD_CLEAR and (e["data"].get("cleared") or {}).get(opt)
                       and e["seq"] > first["seq"] for e in c.events):
                leaks.append((opt, c, first))
    return leaks, len(judged)


@rule(
    id="FX102", name="step-without-backward", severity="error",
    summary="an optimizer step ran with no backward since the previous step of that optimizer",
    what="""
Checks that every `optimizer.step()` consumes gradients produced since that optimizer's previous
step: by a backward before the step, inside an LBFGS-style closure, or assigned by hand.""",
    why="""
A step without fresh gradients re-applies old ones (momentum and Adam moments keep moving the
weights) or does nothing, while the loop believes it trained on the batch.""",
    example="""
loss = criterion(model(x), y)
optimizer.step()             # the backward is missing (or sits after the step)
loss.backward()""",
    instead="""
loss = criterion(model(x), y)
loss.backward()
optimizer.step()""",
    limits="""
Gradients computed with `torch.autograd.grad` and never written to `.grad` count as no gradients.
Steps of an optimizer whose parameters are all frozen are not judged (nothing could reach them), and
a run without such a step is n/a, not a pass. When a backward wrote gradients to parameters no
optimizer holds, steps of an optimizer that never got a gradient are left to FX205. A step whose
gradients were all cleared after the backward is FX103's finding, not this one's. An optimizer
that never got a gradient while backward passes ran is FX208's.""",
    hint="call loss.backward() before optimizer.step() in every cycle",
)
def step_without_backward(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    steps = events(g, ev.OPTIMIZER_STEP)
    # an optimizer that never got a gradient while backward reached parameters no optimizer holds:
    # its model was replaced after it was built, which FX205 reports
    orphaned = any(e["data"].get("orphans") for e in events(g, ev.BACKWARD))
    never_fed = {s["obj"] for s in steps} - {s["obj"] for s in steps if s["data"].get("fresh")}
    unfed = unfed_optimizers(g)  # never a gradient in the whole run: FX208 reports the optimizer once
    judged = [s for s in steps if s["data"].get("trainable", 1) and not (orphaned and s["obj"] in never_fed)
              and s["obj"] not in unfed]
    for s in judged:  # not: every parameter frozen (nothing could get gradients), or FX205's case
        d = s["data"]
        if not d.get("fresh") and not d.get("cleared_before_step"):
            hits.add(f"{s['obj']}.step() at {where(s)} ran with no backward since its previous step "
                     f"(0 of {d.get('params')} parameters received new gradients)", s)
    closures = sum(1 for s in judged if s["data"].get("closure"))
    evidence = f"{len(judged)}/{len(judged)} optimizer steps consumed gradients from a backward"
    if closures:
        evidence += f" ({closures} inside a step closure)"
    found = hits.findings()
    if found:
        evidence = f"{sum(1 for s in judged if not s['data'].get('fresh') and not s['data'].get('cleared_before_step'))}" \
                   f" of {len(judged)} optimizer steps had no backward"
    elif not judged:
        evidence = ("no optimizer step observed" if not steps else
                    f"{len(steps)} optimizer step(s), none over parameters that could get gradients (all frozen, "
                    f"or a model replaced after its optimizer: FX205)")
    return r.result(found, evidence, applicable=bool(judged))


@rule(
    id="FX103", name="gradients-cleared-before-step", severity="error",
    summary="gradients were cleared after the cycle's backward and before its step",
    what="""
Checks that the gradients produced by a cycle's backward still exist when its optimizer steps:
flags a step whose gradients were all cleared (zero_grad, `p.grad = None`, ...) after the backward.""",
    why="""
The step then sees no gradients (or zeros): the batch is computed, its gradients thrown away, and
the weights do not learn from it, while the loss curve looks plausible.""",
    example="""
loss.backward()
optimizer.zero_grad()        # moved here in a refactor
optimizer.step()""",
    instead="""
optimizer.zero_grad()
loss.backward()
optimizer.step()""",
    limits="""
Only a step that sees none of its cycle's gradients is flagged; clearing the gradients of a part of
the model on purpose (to freeze it for a step) is allowed. Only cycles whose step a backward fed
are counted as evidence.""",
    hint="clear gradients before the forward/backward of the cycle (or after the step), never between backward and step",
)
def gradients_cleared_before_step(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    checked = 0
    for opt in stepped_optimizers(g):
        for c in _complete(cycles(g, opt)):
            step = c.step_event
            if step is None or not (step["data"].get("fresh") or step["data"].get("cleared_before_step")):
                continue  # no backward fed this step (FX102's case, or every parameter frozen): nothing reached it
            checked += 1
            d = step["data"]
            if d.get("cleared_before_step") and not d.get("fresh"):
                backwards = c.touching(ev.BACKWARD)
                last_bw = backwards[-1]["seq"] if backwards else -1
                clears = [e for e in c.touching(ev.GRAD_CLEAR) if e["seq"] > last_bw and e["data"].get("cleared")]
                at = clears[-1] if clears else step
                hits.add(f"gradients of {opt} were cleared at {where(at)} after the backward at "
                         f"{where(backwards[-1] if backwards else None)} and before the step at {where(step)}, "
                         f"so the step saw none", at, c.index)
    found = hits.findings()
    evidence = f"gradients reached the step in {checked}/{checked} cycles" if not found else \
        f"{len(found)} place(s) clear gradients between backward and step"
    return r.result(found, evidence if checked else "no optimizer step that a backward fed gradients",
                    applicable=checked > 0)


def _scaled_cycles(g: nx.DiGraph) -> list[tuple[str, Cycle]]:
    """Completed cycles of optimizers stepped through an enabled GradScaler."""
    scalers = set(enabled_scalers(g))
    out = []
    for opt in stepped_optimizers(g):
        for c in _complete(cycles(g, opt)):
            if c.end["kind"] == ev.SCALER_STEP and c.end["obj"] in scalers:
                out.append((opt, c))
    return out


@rule(
    id="FX104", name="clip-scaled-gradients", severity="error",
    summary="with an enabled GradScaler, gradients were clipped before scaler.unscale_(optimizer)",
    what="""
In every cycle stepped through an enabled GradScaler, checks that gradient clipping of the
optimizer's parameters ran after `scaler.unscale_(optimizer)`, not on the still-scaled gradients.""",
    why="""
Scaled gradients are multiplied by the loss scale (65536 at the start): clipping them to a norm of
1.0 shrinks the true gradients by that factor, so training crawls or stalls, silently.""",
    example="""
scaler.scale(loss).backward()
torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # clips scaled gradients
scaler.step(optimizer)
scaler.update()""",
    instead="""
scaler.scale(loss).backward()
scaler.unscale_(optimizer)
torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
scaler.step(optimizer)
scaler.update()""",
    limits="""
Only clipping through torch.nn.utils (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_)
is seen; a hand-written clip is not. A call with an infinite limit only measures the norm and is not
judged.""",
    hint="call scaler.unscale_(optimizer) before clipping",
)
def clip_scaled_gradients(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    clipped_cycles = 0
    for opt, c in _scaled_cycles(g):
        scaled, clipped = False, False
        for e in c.events:
            kind = e["kind"]
            if kind == ev.BACKWARD and e["data"].get("scaled") and involves(e, opt):
                scaled = True
            elif kind == ev.SCALER_UNSCALE and e["data"].get("optimizer") == opt:
                scaled = False
            elif kind == ev.GRAD_CLEAR and (e["data"].get("cleared") or {}).get(opt):
                scaled = False
            elif _clips(e, opt):
                clipped = True
                if scaled:
                    hits.add(f"{e['data'].get('function')} at {where(e)} clipped {opt}'s gradients while they were "
                             f"still multiplied by the loss scale (no scaler.unscale_({opt}) before it in this cycle)",
                             e, c.index)
        clipped_cycles += clipped
    found = hits.findings()
    if found:
        evidence = f"clipping ran on scaled gradients ({len(found)} place(s))"
    elif clipped_cycles:
        evidence = f"scaler.unscale_ preceded clipping in {clipped_cycles}/{clipped_cycles} cycles"
    else:
        evidence = "no clipping in cycles stepped through an enabled GradScaler"
    return r.result(found, evidence, applicable=clipped_cycles > 0)


@rule(
    id="FX105", name="clip-after-step", severity="error",
    summary="gradient clipping ran after the optimizer step (or the update by hand) of its cycle",
    what="""
Checks that no gradient clipping of an optimizer's parameters runs after that optimizer stepped and
before any new backward, and that no clip of parameters updated by hand runs after their update:
such a clip works on gradients that were already used. Judged only for clips in a cycle that a step
or an update ended.""",
    why="""
The update has already been applied with the unclipped gradients; the clip changes nothing that
matters, so exploding gradients go through while the code looks protected.""",
    example="""
loss.backward()
optimizer.step()
torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # too late""",
    instead="""
loss.backward()
torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
optimizer.step()""",
    limits="""
Only clipping through torch.nn.utils is seen. A clip is placed against the optimizers whose
parameters hold gradients when it runs. In a model updated by hand (`p.data.add_(p.grad, ...)`, no
optimizer) a clip is placed against the update by comparing the parameters with their values after
the backward; a clip there is judged only when an update followed it before the next backward. A
call with an infinite limit only measures the norm and is never judged.""",
    hint="clip between backward and optimizer.step() (or the update by hand)",
)
def clip_after_step(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    judged: set[int] = set()  # clip calls placed against a step: after one, or before the one ending their cycle
    for opt in stepped_optimizers(g) if events(g, ev.CLIP) else ():  # no clip: no cycle to walk
        for c in cycles(g, opt):
            after_step = c.index > 1  # until its first backward, a cycle follows a step of this optimizer
            for e in c.events:
                if e["kind"] in (ev.BACKWARD, ev.GRAD_SET) and involves(e, opt):
                    after_step = False
                if not _clips(e, opt):
                    continue
                if after_step or c.end is not None:  # after a step, or between a backward and the step
                    judged.add(e["seq"])
                if after_step:
                    hits.add(f"{e['data'].get('function')} at {where(e)} ran after {opt} stepped and before any "
                             f"new backward: it clips gradients the step already used", e, c.index - 1)
    by_hand = _clips_before_hand_updates(g, hits)
    judged |= by_hand
    clips = len(events(g, ev.CLIP))
    found = hits.findings()
    if found:
        evidence = f"{len(found)} clip call site(s) run after the step"
    elif judged:
        evidence = (f"{len(judged)}/{len(judged)} clip calls ran between a backward and the update by hand that "
                    f"used its gradients" if by_hand == judged else
                    f"{len(judged)}/{len(judged)} clip calls in stepped cycles ran between a backward and its step")
    else:
        evidence = ("no gradient clipping observed" if not clips else
                    f"{clips} clip call(s), none in a cycle that ended in an optimizer step or an update by hand "
                    f"(nothing to order them against)")
    return r.result(found, evidence, applicable=bool(judged))


def _clips_before_hand_updates(g: nx.DiGraph, hits: Occurrences) -> set[int]:
    """Clips of parameters updated by hand, judged where an update followed them before the next
    backward; the clip itself recorded whether the parameters had already changed (then it is late)."""
    placed: list[dict[str, Any]] = []
    updated = False  # walking backwards: does an update by hand come before the next backward?
    for e in reversed(events(g)):
        if e["kind"] in (ev.HAND_UPDATE, ev.BACKWARD):
            updated = e["kind"] == ev.HAND_UPDATE
        elif e["kind"] == ev.CLIP and e["data"].get("hand") and updated and e["data"].get("limit") != float("inf"):
            placed.append(e)
    for e in reversed(placed):
        if e["data"]["hand"].get("after_update"):
            hits.add(f"{e['data'].get('function')} at {where(e)} ran after the parameters it clips were updated by "
                     f"hand from their gradients: the update already used them unclipped", e, e.get("step"))
    return {e["seq"] for e in placed}


@rule(
    id="FX106", name="scaler-bypassed", severity="error",
    summary="the loss was scaled by an enabled GradScaler but the optimizer was stepped directly",
    what="""
Checks that an optimizer whose cycle's backward ran on a `scaler.scale(...)` output is stepped
through `scaler.step(optimizer)`.""",
    why="""
`optimizer.step()` then applies gradients that are still multiplied by the loss scale (unless
unscale_ ran) and steps even when they hold inf/NaN: the scaler can no longer skip bad steps, so
one overflow corrupts the weights.""",
    example="""
scaler.scale(loss).backward()
optimizer.step()             # bypasses the scaler
scaler.update()""",
    instead="""
scaler.scale(loss).backward()
scaler.step(optimizer)
scaler.update()""",
    limits="""
Optimizers with their own scale handling (`_step_supports_amp_scaling`) are stepped by the scaler
and are not flagged.""",
    hint="step with scaler.step(optimizer) followed by scaler.update()",
)
def scaler_bypassed(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    scalers = enabled_scalers(g)
    scaled_steps = 0
    scaled = any(e["data"].get("scaled") for e in events(g, ev.BACKWARD))
    for opt in stepped_optimizers(g) if scaled else ():  # no scaled loss: no cycle to walk
        for c in _complete(cycles(g, opt)):
            if not any(e["data"].get("scaled") for e in c.touching(ev.BACKWARD)):
                continue
            scaled_steps += 1
            step = c.step_event
            if step is not None and not step["data"].get("via_scaler"):
                hits.add(f"{opt}.step() at {where(step)} was called directly although this cycle's backward ran on "
                         f"a scaled loss: the scaler can neither unscale nor skip inf/NaN steps", step, c.index)
    found = hits.findings()
    evidence = (f"{scaled_steps}/{scaled_steps} cycles with a scaled loss were stepped via scaler.step"
                if not found else f"{len(found)} optimizer.step() call site(s) bypass the GradScaler")
    return r.result(found, evidence if scalers else "no enabled GradScaler", applicable=bool(scalers) and scaled_steps > 0)


@rule(
    id="FX107", name="unscaled-backward", severity="error",
    summary="a backward ran on a tensor not produced by scaler.scale() while an enabled GradScaler steps the optimizer",
    what="""
For optimizers stepped through an enabled GradScaler, checks that every backward contributing to
their gradients ran on a tensor produced by `scaler.scale()` (or derived from one).""",
    why="""
`scaler.step` divides all gradients by the scale factor. Gradients from an unscaled backward end
up divided by it too (65536 at the start): that loss term stops contributing, silently.""",
    example="""
scaler.scale(task_loss).backward(retain_graph=True)
aux_loss.backward()          # not scaled
scaler.step(optimizer)""",
    instead="""
scaler.scale(task_loss + aux_weight * aux_loss).backward()
scaler.step(optimizer)""",
    limits="""
A backward on a tensor derived from a scaled one is recognised through a short walk up the autograd
graph (4 levels); a longer chain is reported as unscaled.""",
    hint="backward only on scaler.scale(loss) when stepping with scaler.step",
)
def unscaled_backward(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    seen: set[int] = set()  # a backward that feeds two optimizers is one backward pass
    for opt, c in _scaled_cycles(g):
        for e in c.touching(ev.BACKWARD):
            seen.add(e["seq"])
            if not e["data"].get("scaled"):
                hits.add(f"backward at {where(e)} ran on a tensor not produced by scaler.scale(), but "
                         f"{c.end['obj']} steps {opt}: these gradients get divided by the loss scale", e, c.index)
    found = hits.findings()
    backwards = len(seen)
    evidence = (f"{backwards}/{backwards} backward passes in GradScaler-stepped cycles ran on scaled losses"
                if not found else f"{len(found)} backward call site(s) run on unscaled losses")
    return r.result(found, evidence if backwards else "no cycle stepped through an enabled GradScaler",
                    applicable=backwards > 0)


@rule(
    id="FX108", name="scaler-update-missing", severity="error",
    summary="scaler.step ran and the next cycle (or the run) went on without scaler.update(), or update ran twice",
    what="""
Checks that every `scaler.step(...)` of an enabled GradScaler is followed by exactly one
`scaler.update()` before the next cycle's step, and that no update runs without a step since the
previous one.""",
    why="""
Without update() the scale factor never adapts (no backoff after overflows, no growth) and the next
`scaler.step` raises "step() has already been called since the last update()"; a second update()
without a step raises as well.""",
    example="""
scaler.scale(loss).backward()
scaler.step(optimizer)
optimizer.zero_grad()        # scaler.update() forgotten""",
    instead="""
scaler.scale(loss).backward()
scaler.step(optimizer)
scaler.update()
optimizer.zero_grad()""",
    limits="""
When the run was cut by fxcheck or crashed right after a step, the missing update is reported only
if another cycle began after that step. With several optimizers, an update after each of their steps
(instead of one after all of them) is not flagged.""",
    hint="call scaler.update() once per iteration, after all scaler.step(...) calls",
)
def scaler_update_missing(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    completed = g.graph["meta"].get("status") == "completed"
    pairs = 0
    scalers = enabled_scalers(g)
    for sk in scalers:
        pending: dict[str, dict[str, Any]] = {}
        stepped_since_update = False
        last_update_paired = False  # the previous update followed a scaler.step
        for e in events(g):
            kind, d = e["kind"], e["data"]
            if kind == ev.SCALER_STEP and e["obj"] == sk:
                opt = d.get("optimizer")
                if opt in pending:
                    why = f"; that is why this scaler.step raised {d['raised']}" if d.get("raised") else ""
                    first = pending.pop(opt)
                    hits.add(f"scaler.step({opt}) at {where(first)} was not followed by scaler.update() before the next "
                             f"scaler.step at {where(e)}{why}", first)
                if "raised" not in d:
                    pending[opt] = e
                    stepped_since_update = True
            elif kind == ev.SCALER_UPDATE and e["obj"] == sk:
                if not stepped_since_update and (last_update_paired or d.get("raised")):
                    # (an update with no scaler.step at all while the optimizer is stepped directly is FX106's)
                    what = "a second time after one scaler.step" if last_update_paired else "without a scaler.step"
                    why = f" and raised {d['raised']}" if d.get("raised") else ""
                    hits.add(f"scaler.update() at {where(e)} ran {what}{why}", e)
                pairs += stepped_since_update
                last_update_paired = stepped_since_update
                stepped_since_update = False
                pending.clear()
        for opt, first in pending.items():
            # run over with this step still pending: flagged if the run ended normally, or if it had gone on to
            # a new cycle of this optimizer (a cut or a crash right after the step proves nothing)
            later = [e for e in events(g, ev.BACKWARD) if e["seq"] > first["seq"] and involves(e, opt)]
            if completed:
                hits.add(f"scaler.step({opt}) at {where(first)} was the last step of the run and no scaler.update() "
                         f"followed it", first)
            elif later:
                hits.add(f"scaler.step({opt}) at {where(first)} was not followed by scaler.update() before the next "
                         f"cycle's backward at {where(later[0])}", first)
    found = hits.findings()
    evidence = (f"every scaler.step was followed by one scaler.update(): {pairs} updates" if not found
                else f"{len(found)} scaler.step/update call site(s) out of pairing")
    if scalers and not pairs and not found:
        evidence = "no scaler.step followed by a judged cycle (nothing to pair)"
    return r.result(found, evidence if scalers else "no enabled GradScaler", applicable=bool(scalers) and pairs > 0)


@rule(
    id="FX109", name="scheduler-before-step", severity="warning",
    summary="lr_scheduler.step() ran before optimizer.step()",
    what="""
Checks that each LR scheduler's first `step()` comes after its optimizer's first real step. When an
enabled GradScaler skipped every optimizer step so far (inf/NaN gradients in the first iterations of
float16 training), the scheduler stepping first is expected and not flagged, although PyTorch's own
warning fires then.""",
    why="""
Since PyTorch 1.1 the scheduler must step after the optimizer. Stepping it first skips the first
value of the schedule: warm-up starts one step late and every later LR is shifted by one step.""",
    example="""
for x, y in loader:
    scheduler.step()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()""",
    instead="""
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    scheduler.step()""",
    limits="""
Schedulers not built from torch.optim.lr_scheduler.LRScheduler (hand-set learning rates) are not
seen; their order is not checked.""",
    hint="call scheduler.step() after optimizer.step() (per batch) or after the epoch's training (per epoch)",
)
def scheduler_before_step(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    checked, exempt = 0, 0
    first_seen: set[str] = set()
    real_steps: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for e in events(g):
        kind, d = e["kind"], e["data"]
        if kind == ev.OPTIMIZER_STEP:
            real_steps[e["obj"]] += 1
        elif kind == ev.SCALER_STEP and d.get("skipped"):
            skipped[d.get("optimizer")] += 1
        elif kind == ev.SCHEDULER_STEP and e["obj"] not in first_seen and d.get("optimizer"):
            first_seen.add(e["obj"])
            opt = d["optimizer"]
            checked += 1
            if real_steps[opt]:
                continue
            if skipped[opt]:
                exempt += 1
                continue
            hits.add(f"{e['obj']}.step() at {where(e)} ran before {opt} had stepped once: the first value of the "
                     f"schedule is skipped", e)
    found = hits.findings()
    evidence = f"{checked}/{checked} schedulers first stepped after their optimizer"
    if exempt:
        evidence += f" ({exempt} after GradScaler-skipped steps only, as expected)"
    if found:
        evidence = f"{len(found)} of {checked} schedulers stepped before their optimizer"
    return r.result(found, evidence if checked else "no LR scheduler stepped", applicable=checked > 0)
