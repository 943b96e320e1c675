"""FX4xx: gradient accumulation — normalized losses, and no micro-batches lost at epoch ends."""

from __future__ import annotations

import re
from typing import Any

import networkx as nx

from fxcheck import events as ev
from fxcheck.graph import accumulation, cycles, events, involves, memo, stepped_optimizers, training_passes, where
from fxcheck.loop import micro_batches
from fxcheck.rules import Check, Occurrences, Rule, rule


def accumulation_cycles(g: nx.DiGraph, opt: str) -> list[tuple[Any, list[dict[str, Any]]]]:
    """Completed cycles of `opt` made of K>1 backward passes from one line (an accumulation loop).

    Several backward calls from different lines in one cycle are several losses of one batch (a GAN's
    real and fake terms), not accumulation.
    """
    def found() -> list[tuple[Any, list[dict[str, Any]]]]:
        out = []
        for c in cycles(g, opt):
            if c.end is None or sum(e["kind"] == ev.BACKWARD for e in c.events) < 2:
                continue  # unfinished, or one backward at most: no accumulation
            backwards = micro_batches(c.touching(ev.BACKWARD))
            if len(backwards) > 1 and len({(e["file"], e["line"]) for e in backwards}) == 1:
                out.append((c, backwards))
        return out
    return memo(g, ("accumulation cycles", opt), found)


@rule(
    id="FX401", name="accumulated-loss-not-normalized", severity="warning",
    summary="a step follows K>1 backward passes whose losses were not divided by K",
    what="""
For cycles that accumulate gradients over K>1 micro-batches (K backward calls from the same line
before one step), reads the divisor of each loss from the top of its autograd graph (`loss / K`,
`loss * (1 / K)`, also under `scaler.scale`) and flags cycles where the losses were not divided.""",
    why="""
Gradients add up over the K backward passes: without dividing each loss by K the update is K times
larger than the one the learning rate was tuned for, and changing K silently changes the effective
learning rate.""",
    example="""
for i, (x, y) in enumerate(loader):
    loss = criterion(model(x), y)
    loss.backward()                      # K of these add up
    if (i + 1) % K == 0:
        optimizer.step(); optimizer.zero_grad()""",
    instead="""
for i, (x, y) in enumerate(loader):
    loss = criterion(model(x), y) / K
    loss.backward()
    if (i + 1) % K == 0:
        optimizer.step(); optimizer.zero_grad()""",
    limits="""
A loss divided by something other than K (tokens in the batch, say) is not flagged. A divisor that
lives on the GPU is not read (no sync is forced) and counts as a normalization; a GradScaler's scale
factor (on the GPU under CUDA AMP) is passed over without being read.""",
    hint="divide each micro-batch loss by the number of accumulation steps",
)
def accumulated_loss_not_normalized(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    checked = 0
    for opt in stepped_optimizers(g):
        for c, backwards in accumulation_cycles(g, opt):
            checked += 1
            k = len(backwards)
            if all(e["data"].get("divisor") == 1.0 for e in backwards):
                hits.add(f"{opt} stepped at {where(c.end)} after {k} backward passes from {where(backwards[0])} whose "
                         f"losses were not divided by {k}: the update is {k}x the size of one batch's", backwards[0],
                         c.index)
    found = hits.findings()
    divisors = sorted({e["data"].get("divisor") for opt in stepped_optimizers(g)
                       for _, bws in accumulation_cycles(g, opt) for e in bws} - {None})
    evidence = (f"{checked}/{checked} accumulation cycles had normalized losses (divisor {divisors})" if not found
                else f"{len(found)} backward call site(s) accumulate unnormalized losses")
    return r.result(found, evidence if checked else "no gradient accumulation observed", applicable=checked > 0)


def judgeable(g: nx.DiGraph, pass_event: dict[str, Any]) -> bool:
    """Did this training pass end the way the real epoch does (untruncated, or cut on the same phase)?
    The last one of a run that was stopped or crashed did not end at all."""
    d = pass_event["data"]
    passes = training_passes(g)
    if g.graph["meta"].get("status") != "completed" and passes and passes[-1]["seq"] == pass_event["seq"]:
        return False
    length, batches, k = d.get("length"), d.get("batches") or 0, accumulation(g, pass_event)
    if length is None:
        return False
    return batches == length or bool(k and k > 1 and batches % k == length % k)


@rule(
    id="FX402", name="partial-cycle-dropped", severity="warning",
    summary="an epoch's last micro-batch gradients never reached an optimizer step and were cleared",
    what="""
At the end of a training epoch, checks that gradients accumulated after the epoch's last optimizer
step were stepped, not cleared by the next epoch's zero_grad. Only epochs whose ending matches the
real one are judged (untruncated, or cut on the same accumulation phase), so fxcheck's own
truncation never produces this finding.""",
    why="""
With 18 batches and accumulation 4, a loop that steps only on `(i + 1) % 4 == 0` computes the last
2 micro-batches of every epoch, then throws their gradients away: that data never trains the model.""",
    example="""
for epoch in range(epochs):
    optimizer.zero_grad()
    for i, (x, y) in enumerate(loader):
        (criterion(model(x), y) / K).backward()
        if (i + 1) % K == 0:
            optimizer.step(); optimizer.zero_grad()""",
    instead="""
        if (i + 1) % K == 0 or i + 1 == len(loader):
            optimizer.step(); optimizer.zero_grad()""",
    limits="""
Only gradients of the epoch's final micro-batches count; a clearing within the epoch is FX103's
business. A run that ends before the next epoch clears them shows nothing. Only training DataLoaders
whose `len()` is known are judged (an IterableDataset pass is not).""",
    hint="also step on the epoch's last batch: `if (i + 1) % K == 0 or i + 1 == len(loader)`",
)
def partial_cycle_dropped(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    evts = events(g)
    training = training_passes(g)
    judged = sum(1 for p in training if judgeable(g, p))
    for e in events(g, ev.GRAD_CLEAR):
        for opt, n in (e["data"].get("dropped") or {}).items():
            if not n:
                continue
            last_bw = next((b for b in reversed(evts[:e["seq"]]) if b["kind"] == ev.BACKWARD and involves(b, opt)), None)
            if last_bw is None:
                continue
            owner = next((p for p in reversed(training) if p["seq"] < last_bw["seq"]), None)
            if owner is None or not judgeable(g, owner) or (accumulation(g, owner) or 1) < 2:
                continue
            batches = [b for b in evts[owner["seq"]:e["seq"]] if b["kind"] == ev.LOADER_BATCH and b["obj"] == owner["obj"]]
            # the dropped gradients come from the pass's final batch, and the pass is over when they are cleared
            final = batches and batches[-1]["data"].get("index") == owner["data"].get("batches", 0) - 1 \
                and batches[-1]["seq"] < last_bw["seq"]
            if final:
                hits.add(f"gradients of {n} parameter(s) from the last micro-batches of epoch {last_bw['epoch']} "
                         f"(last backward at {where(last_bw)}) never reached {opt}.step() and were cleared at "
                         f"{where(e)}", e)
    found = hits.findings()
    evidence = (f"no accumulated gradients were dropped at {judged} judged epoch end(s)" if not found
                else f"{len(found)} place(s) drop a partial accumulation cycle")
    accumulating = any((accumulation(g, p) or 1) > 1 for p in training)
    if not accumulating:
        evidence = ("no training DataLoader: no epoch end to judge (a loop without epochs)" if not training
                    else "no gradient accumulation over a training DataLoader observed")
    elif not judged:
        evidence = "no epoch end observed that ended the way the real one does (fxcheck's cut falls elsewhere)"
    return r.result(found, evidence, applicable=accumulating and judged > 0)


LOSS_NAME = re.compile(r"loss", re.I)


@rule(
    id="FX403", name="reported-loss-scaled", severity="warning",
    summary="the training loss the script accumulates is the accumulation-divided value",
    what="""
With gradient accumulation, compares each epoch's running training-loss total (a loss-named number
in the loop's frame) with the sum of the divided losses given to backward in that epoch. When the
total is the divided sum, the reported training loss is K times too small, while evaluation losses
are not divided: the two curves differ by the factor K.""",
    why="""
Train and validation losses then look incomparable (validation "K times worse"), which leads to
wrong conclusions about overfitting, wrong early-stopping and misleading dashboards.""",
    example="""
loss = criterion(model(x), y) / K
loss.backward()
running_loss += loss.item()            # the divided value""",
    instead="""
loss = criterion(model(x), y)
(loss / K).backward()
running_loss += loss.item()            # the real per-batch loss""",
    limits="""
Only totals of the plain loss values are recognised (not ones weighted by batch size); a divisor on
the GPU is not read. Judged only over passes that accumulate (K > 1 backwards per step): a loss
divided without accumulation (a mean of two terms) is the real loss.""",
    hint="accumulate loss.item() before dividing by the accumulation steps (or multiply it back)",
)
def reported_loss_scaled(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    judged = 0
    for p in events(g, ev.LOADER_PASS):
        d = p["data"]
        total, k = d.get("divided_loss_sum"), d.get("loss_divisor")
        if total is None or not k or k <= 1 or "locals_end" not in d or (accumulation(g, p) or 1) < 2:
            continue  # a loss divided without accumulation (a mean of two terms) is the real loss
        judged += 1
        tol = 1e-4 * max(1.0, abs(total) * k)
        for name, start in d["locals_start"].items():
            end = d["locals_end"].get(name)
            if end is None or not LOSS_NAME.search(name):
                continue
            delta = end - start
            if abs(delta - total) <= tol and abs(delta - k * total) > tol:
                line = (d.get("augmented") or {}).get(name)
                at = dict(p, line=line) if line else p
                hits.add(f"`{name}` sums the losses after their division by {k:g} (epoch {p['epoch']}: {delta:.4g}, "
                         f"the undivided losses sum to {k * total:.4g}): the reported training loss is {k:g}x too "
                         f"small next to an undivided evaluation loss", at)
    found = hits.findings()
    evidence = (f"training-loss totals hold undivided values in {judged}/{judged} epochs with divided losses"
                if not found else f"{len(found)} total(s) of divided losses")
    return r.result(found, evidence if judged else "no accumulation with divided losses observed",
                    applicable=judged > 0)
