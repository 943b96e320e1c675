"""FX2xx: state that must persist across batches and epochs (optimizer, scaler, LR, sample order)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import networkx as nx

from fxcheck import events as ev
from fxcheck.graph import enabled_scalers, events, memo, objects, training_passes, unfed_optimizers, where
from fxcheck.rules import Check, Occurrences, Rule, rule, when


def _created(g: nx.DiGraph, key: str) -> dict[str, Any] | None:
    return next((e for e in events(g, ev.OBJECT_CREATED) if e["obj"] == key), None)


def _steps_by_optimizer(g: nx.DiGraph) -> dict[str, list[dict[str, Any]]]:
    """Each optimizer's steps in order (shared by five rules: read it, never change it)."""
    def by_optimizer() -> dict[str, list[dict[str, Any]]]:
        steps: dict[str, list[dict[str, Any]]] = {}
        for e in events(g, ev.OPTIMIZER_STEP):
            steps.setdefault(e["obj"], []).append(e)
        return steps
    return memo(g, "steps by optimizer", by_optimizer)


@rule(
    id="FX201", name="optimizer-recreated", severity="error",
    summary="a new optimizer was built over parameters an earlier optimizer had already stepped",
    what="""
Records where every optimizer is built and which parameters it holds; flags an optimizer built over
parameters that an earlier optimizer object has already stepped.""",
    why="""
Adam's moments, SGD's momentum buffers and step counts live in the optimizer object. Building a new
one (typically inside the epoch loop) throws them away: every epoch restarts with zero momentum and
Adam's bias correction from step 1, a silent change of the training dynamics.""",
    example="""
for epoch in range(epochs):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)   # rebuilt each epoch
    train_one_epoch(model, optimizer)""",
    instead="""
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(epochs):
    train_one_epoch(model, optimizer)""",
    limits="""
A deliberate switch of optimizer between training phases is flagged too; switching through
`add_param_group` or `load_state_dict` keeps the state and is not.""",
    hint="build the optimizer once, before the epoch loop",
)
def optimizer_recreated(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    opts = objects(g, ev.OPTIMIZER)
    steps = _steps_by_optimizer(g)
    for o in opts:
        for earlier, n in (o["attrs"].get("shares_stepped") or {}).items():
            at = _created(g, o["key"])
            hits.add(f"{o['key']} ({o['cls']}) was built at {where(at)} over {n} parameters that {earlier} had already "
                     f"stepped {len(steps.get(earlier, []))} times: their moments/momentum restart from zero", at)
    found = hits.findings()

    def describe(o: dict[str, Any]) -> str:
        seq = steps.get(o["key"], [])
        epochs = len({s["epoch"] for s in seq})
        text = f"{o['key']} {o['cls']}: one object, created {where(o)}, {len(seq)} steps over {epochs} epoch(s)"
        last = seq[-1]["data"] if seq else {}
        if last.get("state_step") is not None:
            text += f", state step={last['state_step']}"
        return text

    summary = "; ".join(describe(o) for o in opts)
    evidence = summary if not found else \
        f"{len(found)} place(s) rebuild an optimizer over stepped parameters"
    return r.result(found, evidence if opts else "no optimizer built", applicable=bool(steps))


@rule(
    id="FX202", name="optimizer-state-reset", severity="error",
    summary="the same optimizer object had its per-parameter state cleared or reloaded during training",
    what="""
Reads each optimizer's per-parameter state after every step (number of entries, step count) and
flags a step after which they went backwards: state cleared, replaced or reloaded mid-training.""",
    why="""
Clearing `optimizer.state` or reloading an old state dict each epoch silently resets momentum and
Adam's moments (and bias correction), the same damage as rebuilding the optimizer.""",
    example="""
for epoch in range(epochs):
    optimizer.state = collections.defaultdict(dict)   # "reset momentum"
    train_one_epoch(model, optimizer)""",
    instead="""
for epoch in range(epochs):
    train_one_epoch(model, optimizer)                  # the state carries over""",
    limits="""
A resume (load_state_dict before the first step) is fine and not flagged, and so is a rollback: a
state that this run took after training began (`optimizer.state_dict()`, torch.save), loaded back
from its file, a buffer or a copy (known by its step counts, sizes and learning rates), as in
restart-from-best. A state taken before the first step and loaded again later is a reset. A reload
of a mid-training checkpoint by mistake (a resume check inside the epoch loop) is taken for a
rollback too. Optimizers keeping no per-parameter state (plain SGD) cannot show a reset.""",
    hint="keep the optimizer's state across epochs; reload it only to resume before training starts",
)
def optimizer_state_reset(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    steps = _steps_by_optimizer(g)
    loads = events(g, ev.OPTIMIZER_LOAD)
    # loads of a state this run took mid-training (restart-from-best): rollbacks, not resets, whether or
    # not the step counts show it (a rollback by one step does not)
    rollbacks = [e for e in loads if e["data"].get("saved_at") is not None]
    stateful = 0
    for opt, seq in steps.items():
        if any(s["data"].get("state_size") for s in seq):
            stateful += 1
        for prev, cur in zip(seq, seq[1:]):
            p, c = prev["data"], cur["data"]
            went_back = (c.get("state_size") or 0) < (p.get("state_size") or 0)
            if c.get("state_step") is not None and p.get("state_step") is not None:
                # strictly lower: a parameter without a gradient in one step keeps its count
                went_back = went_back or c["state_step"] < p["state_step"]
            if not went_back:
                continue
            load = next((e for e in loads if e["obj"] == opt and prev["seq"] < e["seq"] < cur["seq"]), None)
            if load is not None and load in rollbacks:
                continue
            at = load or cur
            how = "reloaded by load_state_dict" if load else (
                f"cleared at {c['state_edit']}" if c.get("state_edit") else "cleared")
            if not load and c.get("state_edit"):
                file, _, line = c["state_edit"].rpartition(":")
                at = dict(cur, file=file, line=int(line))
            hits.add(f"{opt}'s state was {how} between its steps at {where(prev)} and {where(cur)} "
                     f"(step count {p.get('state_step')} -> {c.get('state_step')}, "
                     f"{p.get('state_size')} -> {c.get('state_size')} parameter entries)", at)
    found = hits.findings()
    total = sum(len(s) for s in steps.values())
    evidence = (f"per-parameter state only grew over {total} steps of {stateful} stateful optimizer(s)"
                if not found else f"{len(found)} place(s) reset an optimizer's state")
    if rollbacks and not found:
        evidence = (f"per-parameter state kept over {total} steps of {stateful} stateful optimizer(s), except "
                    f"{len(rollbacks)} rollback(s) to a state this run took after training began (at "
                    f"{where(rollbacks[0])}, from {rollbacks[0]['data'].get('source') or 'a copy in memory'})")
    return r.result(found, evidence if stateful else "no optimizer with per-parameter state stepped",
                    applicable=stateful > 0)


@rule(
    id="FX203", name="scaler-recreated", severity="error",
    summary="a new GradScaler was built after training began",
    what="""
Flags a GradScaler built after an earlier GradScaler had already stepped an optimizer.""",
    why="""
The scaler learns its loss scale over the run (backing off after overflows, growing after stable
stretches). A new one starts again at 65536 with a fresh growth tracker: float16 runs hit a burst of
skipped steps after every re-creation.""",
    example="""
for epoch in range(epochs):
    scaler = torch.amp.GradScaler("cuda")   # rebuilt each epoch
    train_one_epoch(model, optimizer, scaler)""",
    instead="""
scaler = torch.amp.GradScaler("cuda")
for epoch in range(epochs):
    train_one_epoch(model, optimizer, scaler)""",
    limits="""
Only enabled scalers that stepped count; a disabled scaler is never flagged.""",
    hint="build the GradScaler once, next to the optimizer",
)
def scaler_recreated(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    stepped: set[str] = set()
    scalers = set(enabled_scalers(g))
    for e in events(g):
        if e["kind"] == ev.SCALER_STEP and e["obj"] in scalers:
            stepped.add(e["obj"])
        elif e["kind"] == ev.OBJECT_CREATED and e["obj"] in scalers and stepped - {e["obj"]}:
            hits.add(f"{e['obj']} was built at {where(e)} after {sorted(stepped)[0]} had already stepped: the loss "
                     f"scale and its growth tracker start over", e)
    updates = [e for e in events(g, ev.SCALER_UPDATE) if e["obj"] in scalers]
    found = hits.findings()
    if found:
        evidence = f"{len(found)} place(s) rebuild the GradScaler"
    else:
        scale = f"; scale {updates[0]['data'].get('scale_before')} -> {updates[-1]['data'].get('scale_after')}" \
            if updates else ""
        evidence = f"{len(scalers)} GradScaler object(s), {len(updates)} updates{scale}"
    return r.result(found, evidence if stepped else "no enabled GradScaler stepped", applicable=bool(stepped))


RESTARTING = {"CosineAnnealingWarmRestarts", "CyclicLR"}  # schedulers that jump back by design


@rule(
    id="FX204", name="lr-schedule-restarted", severity="warning",
    summary="a new LR scheduler was built for an optimizer that already had one stepping, or the LR jumped back",
    what="""
Flags an LR scheduler built for an optimizer whose earlier scheduler had already stepped, and a
learning rate that jumps back to its initial value at an epoch boundary after it had moved (unless
a single warm-restart scheduler does that by design).""",
    why="""
A scheduler rebuilt each epoch replays its first epoch forever: the warm-up or decay never gets
past epoch 1, so the run trains at the wrong learning rate without any error.""",
    example="""
for epoch in range(epochs):
    scheduler = CosineAnnealingLR(optimizer, T_max=len(loader))   # rebuilt each epoch
    train_one_epoch(model, optimizer, scheduler)""",
    instead="""
scheduler = CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
for epoch in range(epochs):
    train_one_epoch(model, optimizer, scheduler)""",
    limits="""
A jump back is recognised when an epoch's first learning rates repeat the previous epoch's first
ones (at least two steps in each epoch), so a jump that then follows another path, and the one-step
last epoch fxcheck observes, are not judged. An optimizer with a CosineAnnealingWarmRestarts or
CyclicLR scheduler restarts on purpose and is not flagged, whatever other schedulers it has. An LR
set by hand that returns to its initial value at an epoch boundary is flagged at the first step of
that epoch.""",
    hint="build the scheduler (or the learning-rate schedule set by hand) once for the whole run; use a warm-restart "
         "scheduler if restarts are intended",
)
def lr_schedule_restarted(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    stepping: dict[str, str] = {}  # optimizer -> a scheduler of it that has stepped
    scheds = {o["key"]: o for o in objects(g, ev.SCHEDULER)}
    rebuilt_for: set[str] = set()
    for e in events(g):
        if e["kind"] == ev.SCHEDULER_STEP and e["data"].get("optimizer"):
            stepping.setdefault(e["data"]["optimizer"], e["obj"])
        elif e["kind"] == ev.OBJECT_CREATED and e["obj"] in scheds:
            opt = scheds[e["obj"]]["attrs"].get("optimizer")
            if opt in stepping and stepping[opt] != e["obj"]:
                rebuilt_for.add(opt)
                hits.add(f"{e['obj']} ({scheds[e['obj']]['cls']}) was built at {where(e)} for {opt}, whose scheduler "
                         f"{stepping[opt]} had already stepped: the schedule starts over", e)
    restarting = {o["attrs"].get("optimizer") for o in scheds.values() if o["cls"] in RESTARTING}
    for opt, seq in _steps_by_optimizer(g).items():
        if opt in rebuilt_for or opt in restarting or not seq:
            continue
        by_epoch: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for s in seq:
            by_epoch[s["epoch"]].append(s)
        epochs = sorted(by_epoch)
        for before, after in zip(epochs, epochs[1:]):
            first = [s["data"].get("lr") for s in by_epoch[before]]
            again = [s["data"].get("lr") for s in by_epoch[after]]
            n = min(3, len(first), len(again))
            # a restart replays the schedule: the LR moved during the epoch, then the next starts over
            if n >= 2 and len(set(first)) > 1 and first[-1] != first[0] and again[:n] == first[:n]:
                cur = by_epoch[after][0]
                hits.add(f"{opt}'s learning rate started epoch {after} over from {first[0]} (it was {first[-1]} at the "
                         f"end of epoch {before}) and replays the same values: the schedule restarts", cur)
    found = hits.findings()
    evidence = f"{len(scheds)} scheduler object(s), each built once; no LR jump back at an epoch boundary" \
        if not found else f"{len(found)} place(s) restart the LR schedule"
    return r.result(found, evidence if (scheds or stepping) else "no LR scheduler", applicable=bool(scheds))


@rule(
    id="FX205", name="parameters-not-optimized", severity="error",
    summary="parameters that receive gradients are not held by any optimizer and are not updated by hand",
    what="""
Walks the autograd graph of the first backward passes of each epoch and flags parameters
(`nn.Parameter` with requires_grad) that will receive gradients but that no optimizer holds.""",
    why="""
Typical cause: a module replaced after the optimizer was built (`model.fc = nn.Linear(...)`). The
new layer gets gradients every step but never changes; the old layer's parameters sit in the
optimizer and never get gradients. Training runs and the loss moves a little, from the other layers.""",
    example="""
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.fc = nn.Linear(512, num_classes)          # not in the optimizer""",
    instead="""
model.fc = nn.Linear(512, num_classes)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)""",
    limits="""
Only the first backward passes of each epoch are walked (in a loop without a training DataLoader,
the run's first two). Tensors that are not `nn.Parameter`
(inputs with requires_grad, e.g. for adversarial examples) are ignored. Parameters that no optimizer
holds but whose values change after their backward (a hand-written update such as
`p.data.add_(p.grad, alpha=-lr)`) are trained: they are not flagged, and each such update ends a
cycle of the loop as an optimizer step does.""",
    hint="build the optimizer after the model is final, or add the new parameters with add_param_group",
)
def parameters_not_optimized(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    walked = [e for e in events(g, ev.BACKWARD) if "orphans" in e["data"]]
    by_hand = max((e["data"].get("hand_updated", 0) for e in walked), default=0)
    for e in walked:
        n = e["data"]["orphans"] - e["data"].get("hand_updated", 0)
        if n > 0:
            shapes = ", ".join(str(s) for s in e["data"].get("orphan_shapes") or [])
            also = f"; {e['data']['hand_updated']} other(s) are updated by hand" if e["data"].get("hand_updated") else ""
            hits.add(f"backward at {where(e)} writes gradients to {n} parameter(s) that no optimizer holds and "
                     f"nothing updates (shapes {shapes}): they never train{also}", e)
    found = hits.findings(checked=f"in the {len(walked)} backward passes walked (the first ones of each epoch) "
                                  f"of {len(events(g, ev.BACKWARD))} in the run")
    if found:
        evidence = f"{len(found)} backward call site(s) reach parameters that nothing trains"
    else:
        evidence = (f"every parameter that received gradients is held by an optimizer or updated by hand "
                    f"({len(walked)} backward passes walked" + (f"; {by_hand} updated by hand from their gradients)" if by_hand else ")"))
    return r.result(found, evidence if walked else "no backward observed", applicable=bool(walked))


@rule(
    id="FX206", name="same-epoch-order", severity="error",
    summary="a shuffling loader yields the same sample order in every epoch",
    what="""
Records the first sample indices that each shuffling sampler yields in each pass and flags a loader
whose order is identical from one epoch to the next.""",
    why="""
Shuffling exists so that each epoch sees the batches in a new order. Re-seeding inside the epoch
loop replays one order every epoch: the model sees the
same batch sequence and its generalization suffers, silently.""",
    example="""
for epoch in range(epochs):
    torch.manual_seed(0)                  # "for reproducibility"
    for x, y in loader:                   # same order every epoch
        ...""",
    instead="""
torch.manual_seed(0)                      # once, before the loop
for epoch in range(epochs):
    for x, y in loader:
        ...""",
    limits="""
Only RandomSampler and DistributedSampler are watched; a custom sampler is not. A DistributedSampler
whose epoch was never moved by set_epoch() is reported by FX501 instead.""",
    hint="seed once before the epoch loop",
)
def same_epoch_order(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    loaders = {o["key"]: o for o in objects(g, ev.LOADER)}
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events(g, ev.SAMPLER_ORDER):
        if e["data"].get("shuffle") and e["obj"] in loaders:
            by_site[where(loaders[e["obj"]])].append(e)
    seeds = events(g, ev.RNG_SEED)
    compared = 0
    for site, orders in by_site.items():
        for prev, cur in zip(orders, orders[1:]):
            if len(cur["data"]["prefix"]) < 2:
                continue
            if cur["data"].get("set_epoch") is not None and cur["data"]["set_epoch"] == prev["data"].get("set_epoch"):
                continue  # a sampler with an epoch that set_epoch() never moved: FX501's to report
            compared += 1
            if cur["data"]["prefix"] == prev["data"]["prefix"]:
                reseed = next((s for s in reversed(seeds) if prev["seq"] < s["seq"] < cur["seq"]), None)
                at = reseed or cur
                why = f"torch.manual_seed at {where(reseed)} re-seeded it" if reseed else "its generator was reset"
                hits.add(f"the shuffling loader built at {site} yielded the same sample order in consecutive passes "
                         f"(first indices {cur['data']['prefix'][:5]}...): {why}", at)
    found = hits.findings()
    evidence = f"sample order differed between consecutive passes: {compared}/{compared} comparisons" if not found \
        else f"{len(found)} loader(s) repeat their order"
    return r.result(found, evidence if compared else "no shuffling loader seen over two passes",
                    applicable=compared > 0)


ACCUMULATOR = re.compile(r"loss|correct|running|sum|acc|seen|samples|batches|tokens|metric|total|count", re.I)
PERSISTENT = re.compile(r"step|global|iter|best|epoch|patience|lr|ema|seed|warmup|max|min", re.I)
MEMBER = re.compile(r"(?:\.|\[)([^.\[\]]+)\]?$")  # the attribute or key of a dotted / subscripted name


@rule(
    id="FX207", name="accumulator-not-reset", severity="warning",
    summary="a running loss/metric accumulator or batch counter carries its value into the next epoch",
    what="""
Reads the numbers held by the frame that iterates each loader at the start and end of every pass:
its locals, the attributes of objects of the script's own classes (an AverageMeter's sum and count)
and its dicts' entries. A running sum or counter (a name like running_loss, total, correct,
n_batches) that changed during
one epoch and starts the next epoch with the value it ended with, instead of its initial value, is
flagged at the line that accumulates into it.""",
    why="""
The epoch's reported loss or accuracy then mixes in every earlier epoch: numbers drift, early
stopping and LR-on-plateau decisions read the wrong metric, and the curve looks smoother than
training really is.""",
    example="""
running_loss = 0.0
for epoch in range(epochs):
    for x, y in loader:
        ...
        running_loss += loss.item()      # never reset
    print(running_loss / len(loader))""",
    instead="""
for epoch in range(epochs):
    running_loss = 0.0
    for x, y in loader:
        ...
        running_loss += loss.item()""",
    limits="""
The frame that runs the loop is read: its locals, numeric attributes of objects of the script's own
classes that it holds, one level down too (a meter whose `update` does `self.sum += ...`, a
Trainer's `self.loss_meter`, `self.total` in a Trainer method) and numeric entries of its dicts; an attribute or entry counts only where the code
accumulates into it with `+=`. Counters meant to persist are told apart by name (step, global, iter, best, epoch, patience, lr, ...), and a
total the loop reads as a difference (`tr_loss - logging_loss`, the Hugging Face way) is taken as
cumulative on purpose. Passes are compared per DataLoader object: a loader rebuilt every epoch is
not judged. A local accumulated without `+=` (`total = total + x`) is flagged at the next epoch's
loop.""",
    hint="reset the accumulator at the start of each epoch (inside the epoch loop, before the batch loop)",
)
def accumulator_not_reset(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    by_loader: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events(g, ev.LOADER_PASS):
        if "locals_end" in e["data"]:
            by_loader[e["obj"]].append(e)
    watched: set[str] = set()
    for passes in by_loader.values():
        for prev, cur in zip(passes, passes[1:]):
            start, end, again = prev["data"]["locals_start"], prev["data"]["locals_end"], cur["data"]["locals_start"]
            cumulative = set(prev["data"].get("differenced") or ())  # read as differences: cumulative on purpose
            augmented = prev["data"].get("augmented") or {}
            for name, initial in start.items():
                member = MEMBER.search(name)  # `meter.sum`, `stats[loss]`: judged by the member's name
                short = member.group(1) if member else name
                if not ACCUMULATOR.search(short) or PERSISTENT.search(short) or name in cumulative:
                    continue
                if member and name not in augmented:
                    continue  # an attribute or entry only counts where the code accumulates into it (`+=`)
                watched.add(name)
                if name in end and name in again and end[name] != initial and again[name] == end[name]:
                    line = augmented.get(name)
                    at = dict(prev, line=line) if line else cur
                    hits.add(f"`{name}` went from {initial:g} to {end[name]:g} during epoch {prev['epoch']} and started "
                             f"epoch {cur['epoch']} at {again[name]:g}: it is never reset between epochs", at)
    found = hits.findings()
    evidence = (f"no accumulator began an epoch at the value it ended the previous one with: {', '.join(sorted(watched))}"
                if not found
                else f"{len(found)} accumulator(s) carried across epochs")
    return r.result(found, evidence if watched else "no running accumulator seen over two passes",
                    applicable=bool(watched))


def _updated(step: dict[str, Any]) -> bool:
    """Did this step have gradients to apply (fresh ones, or ones a clearing threw away before it)?"""
    return bool(step["data"].get("fresh") or step["data"].get("cleared_before_step"))


@rule(
    id="FX208", name="optimizer-updates-nothing", severity="error",
    summary="an optimizer stepped repeatedly and none of its parameters ever had a gradient",
    what="""
Reads, at every optimizer step, how many of the optimizer's parameters have requires_grad and how
many received a gradient since its previous step. An optimizer that stepped at least twice without
any of its parameters ever getting a gradient is flagged at its step() line, with the cause the
state shows: every parameter frozen (requires_grad=False), or trainable parameters that no backward
reached (detached from the loss, or replaced after the optimizer was built).""",
    why="""
`step()` skips parameters without a gradient, so nothing is updated and nothing fails: the loss
curve still moves (BatchNorm statistics, dropout noise, a learning-rate schedule) and the run looks
like training. A fine-tune with the head frozen by mistake, or an optimizer built over a module that
was then replaced, trains nothing for as long as it runs.""",
    example="""
for p in model.parameters():
    p.requires_grad = False
model.fc.requires_grad_(False)                     # meant: True
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)
for x, y in loader:
    ...
    optimizer.step()                               # updates nothing""",
    instead="""
for p in model.parameters():
    p.requires_grad = False
model.fc.requires_grad_(True)
optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.1)""",
    limits="""
An optimizer over frozen parameters that is meant to start only later (a staged schedule whose
second optimizer steps before its parameters are unfrozen) is not judged when fxcheck cut the run
while another optimizer trained: the rest of the run may have unfrozen them. A run without any
backward is missing its backward (FX102). Parameters changed by hand are not seen.""",
    hint="give the optimizer the parameters that train (requires_grad=True, the modules the forward uses)",
)
def optimizer_updates_nothing(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    steps = _steps_by_optimizer(g)
    unfed = unfed_optimizers(g)
    training = [key for key, ss in steps.items() if any(map(_updated, ss))]
    whole = g.graph["meta"].get("status") == "completed"
    waiting = []
    for key, ss in unfed.items():
        last = ss[-1]["data"]
        params, trainable = last.get("params") or 0, last.get("trainable") or 0
        if not trainable and training and not whole:
            waiting.append(key)  # frozen: the cut may have come before they were unfrozen
            continue
        cause = (f"all {params} of its parameters have requires_grad=False (frozen)" if not trainable else
                 f"{trainable} of its {params} parameters are trainable but no backward reached them (detached "
                 "from the loss, or not the parameters the model uses: replaced after the optimizer was built)")
        hits.add(f"{key} stepped {len(ss)} times and none of its parameters ever had a gradient: {cause}; "
                 "every step() updated nothing", ss[0])
    found = hits.findings()
    judged = len(training) + len(unfed) - len(waiting)
    evidence = (f"{len(training)} optimizer(s) applied gradients to their parameters" if not found
                else f"{len(found)} optimizer(s) updated nothing") if judged else "no optimizer stepped with gradients"
    if waiting:
        evidence += (f"; not judged: {', '.join(waiting)} (all frozen when fxcheck cut the run while another "
                     "optimizer trained)")
    return r.result(found, evidence, applicable=judged > 0)


@rule(
    id="FX209", name="frozen-after-training", severity="warning",
    summary="parameters that optimizer steps had updated were frozen later in the run",
    what="""
Reads, at every optimizer step, how many of its parameters have requires_grad turned off although an
earlier step had applied a gradient to them. Parameters frozen after training began that stay frozen
to the last observed step are flagged at the step() line of the optimizer that had been updating
them, with when the freeze was first seen. Parameters frozen from the start, and parameters that are
unfrozen later (gradual unfreezing, `add_param_group`), are not flagged.""",
    why="""
A freeze meant from the start but applied late (inside `model.train()`, at the first epoch boundary,
after the optimizer's first steps) trains the part that should have stayed fixed: a pretrained
backbone drifts during the first epoch, and what the rest of the run fine-tunes is no longer the
model the experiment describes.""",
    example="""
class Net(nn.Module):
    def train(self, mode=True):
        super().train(mode)
        if self.epochs_seen > 0:                       # frozen only from the second epoch
            self.backbone.requires_grad_(False)""",
    instead="""
model.backbone.requires_grad_(False)                  # before the first optimizer step
optimizer = torch.optim.AdamW(p for p in model.parameters() if p.requires_grad)""",
    limits="""
A deliberate progressive freezing schedule (layers frozen one after another as training goes on)
looks the same and is flagged. Parameters frozen and unfrozen again within the run are taken as a
deliberate alternation and are not.""",
    hint="freeze before the first optimizer step, or leave the parameters trainable",
)
def frozen_after_training(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    steps = _steps_by_optimizer(g)
    judged = toggled = 0
    for key, ss in steps.items():
        if len(ss) < 2:
            continue
        judged += 1
        frozen = [s for s in ss if s["data"].get("frozen_updated")]
        if not frozen:
            continue
        if not ss[-1]["data"].get("frozen_updated"):
            toggled += 1  # unfrozen again before the run ended
            continue
        first = frozen[0]
        hits.add(f"{first['data']['frozen_updated']} parameter(s) of {key} that earlier steps had updated have "
                 f"requires_grad turned off from step {first['step']} ({when(first['epoch'], first['step'])}) to the "
                 f"last observed step: a freeze applied after training began", first)
    found = hits.findings()
    evidence = (f"{judged} optimizer(s): no parameter an earlier step had updated was frozen later" if not found
                else f"{len(found)} optimizer(s) had parameters frozen after training began")
    if toggled and not found:
        evidence += f" for the rest of the run ({toggled} frozen for a while and unfrozen again)"
    return r.result(found, evidence if judged else "no optimizer stepped twice", applicable=judged > 0)


def _origin(key: str, sources: dict[str, str], known: dict[str, Any]) -> str:
    """The script's own loader a framework built this one from (Accelerate's prepare), or itself."""
    seen = {key}
    while sources.get(key) in known and sources[key] not in seen:
        key = sources[key]
        seen.add(key)
    return key


@rule(
    id="FX210", name="training-loader-not-shuffled", severity="warning",
    summary="the loader whose batches train a model never shuffles",
    what="""
Records how each DataLoader was built. A loader whose batches train a model, built over a map-style
dataset with none of shuffle, sampler or batch_sampler given (so DataLoader chose a
SequentialSampler), is flagged at the loop that trains on it: every epoch visits the samples in
index order. A loader a framework rebuilt from the script's (Accelerate's prepare) is judged by the
script's own.""",
    why="""
SGD assumes batches drawn at random. In index order, a dataset stored class by class (or by source,
length, date) feeds long runs of one kind of sample: the loss oscillates, BatchNorm statistics follow
the current class, and the model ends biased towards the last classes it saw. Nothing fails; the
final accuracy is just lower. pytorch/examples' MNIST passed shuffle=True only on an accelerator, so
its CPU runs never shuffled.""",
    example="""
train_kwargs = {"batch_size": 64}
if use_cuda:
    train_kwargs.update({"shuffle": True})      # on CPU: never shuffled
loader = DataLoader(train_set, **train_kwargs)""",
    instead="""
loader = DataLoader(train_set, batch_size=64, shuffle=True)""",
    limits="""
Data kept in order on purpose (a time series, truncated BPTT over a stream) says so by passing
shuffle=False or an explicit sampler, and is not flagged; an IterableDataset orders itself and is not
judged. A dataset shuffled once before training (a random_split, a permuted tensor) still repeats one
order every epoch and is flagged.""",
    hint="pass shuffle=True to the training DataLoader (or shuffle=False if the order is deliberate)",
)
def training_loader_not_shuffled(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    loaders = {o["key"]: o for o in objects(g, ev.LOADER)}
    sources = {e["obj"]: e["data"].get("source") for e in events(g, ev.LOADER_DERIVED)}
    trained: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in training_passes(g):
        trained[_origin(p["obj"], sources, loaders)].append(p)
    for key, passes in trained.items():
        attrs = loaders[key]["attrs"] if key in loaders else {}
        if attrs.get("default_order"):
            o = loaders[key]
            hits.add(f"the training loader built at {where(o)} over a {attrs.get('dataset')} was given no shuffle, "
                     f"sampler or batch_sampler, so it uses a {attrs.get('sampler')}: its {len(passes)} training "
                     "pass(es) visited the samples in index order, the same order every epoch", passes[0])
    found = hits.findings()
    orders = ", ".join(f"{k} ({loaders[k]['attrs'].get('sampler', '?')})" for k in trained if k in loaders)
    evidence = f"training loaders: {orders}" if not found else f"{len(found)} training loader(s) never shuffle"
    return r.result(found, evidence if trained else "no DataLoader pass trained", applicable=bool(trained))
