"""FX5xx: distributed runs — samplers, DDP synchronization, and ranks that stay in step.

FX501-FX503 read one rank's trace; FX504 and FX505 compare a rank's trace with its peers' (the merged
report links every rank's graph to the others, `ranks_of`), and are n/a in a single process.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import networkx as nx

from fxcheck import events as ev
from fxcheck import loop
from fxcheck.graph import events, loop_model, stepped_optimizers, where
from fxcheck.rules import Check, Occurrences, Rule, rule, when
from fxcheck.rules.accumulation import accumulation_cycles

SINGLE = "a single process: there are no other ranks to compare with"


def ranks_of(g: nx.DiGraph) -> dict[int, nx.DiGraph]:
    """Every rank's graph of the run this graph is one rank of ({} for a single process)."""
    return g.graph.get("peers") or {}


def _others(g: nx.DiGraph) -> dict[int, nx.DiGraph]:
    """The graphs of the ranks other than this graph's."""
    return {n: h for n, h in ranks_of(g).items() if h is not g}


def link_ranks(graphs: dict[int, nx.DiGraph]) -> None:
    """Make each rank's graph know the others' (before the rules run)."""
    for rank, g in graphs.items():
        g.graph["rank"], g.graph["peers"] = rank, graphs
        g.graph["meta"]["rank"] = rank


def _wraps(g: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """The first DDP wrapper built around each module (module key -> its ddp.wrap event)."""
    found: dict[str, dict[str, Any]] = {}
    for e in events(g, ev.DDP_WRAP):
        found.setdefault(e["data"].get("module"), e)
    return found


def _wrapped_training_forwards(g: nx.DiGraph) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Training forwards (a backward went through them) of modules a DDP wrapper held by then, with the
    wrapper's ddp.wrap event; a forward's `through` names the wrapper it ran inside, if any."""
    wraps = _wraps(g)
    return [(e, wraps[e["obj"]]) for e in events(g, ev.MODEL_FORWARD)
            if e["obj"] in wraps and e["seq"] > wraps[e["obj"]]["seq"] and e.get("phase") == loop.TRAIN
            and e["data"].get("trained")]


@rule(
    id="FX501", name="sampler-epoch-not-set", severity="error",
    summary="a DistributedSampler with shuffle is iterated in several epochs without set_epoch()",
    what="""
For every training loader whose sampler has an epoch (DistributedSampler and its subclasses) and
shuffles, reads the sampler's epoch as each training pass begins. Two consecutive training epochs
that begin with the same sampler epoch are flagged at the loop over the loader: set_epoch() was not
called between them.""",
    why="""
A DistributedSampler shuffles with a generator seeded by `seed + epoch`. Without
`sampler.set_epoch(epoch)` every epoch uses epoch 0: each rank sees the same samples in the same
order every epoch, which is not the shuffling the loader promises, and training generalizes worse
without an error anywhere.""",
    example="""
sampler = DistributedSampler(dataset, shuffle=True)
loader = DataLoader(dataset, batch_size=32, sampler=sampler)
for epoch in range(epochs):
    for x, y in loader:                   # the same order every epoch
        ...""",
    instead="""
for epoch in range(epochs):
    sampler.set_epoch(epoch)
    for x, y in loader:
        ...""",
    limits="""
Needs two training epochs in the run (the default --epochs 2 has them). A sampler that shuffles on
its own without an `epoch` attribute is FX206's to judge. Evaluation loaders are not judged (their
order does not change what is learnt).""",
    hint="call sampler.set_epoch(epoch) at the start of every epoch",
)
def sampler_epoch_not_set(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    model = loop_model(g)
    ordered = events(g)
    by_loader: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for e in events(g, ev.SAMPLER_ORDER):
        if not e["data"].get("shuffle") or e["data"].get("set_epoch") is None:
            continue
        p = model.latest_pass_of(e["obj"], e["seq"])
        if p is not None and p.role == loop.TRAIN:
            by_loader[e["obj"]].append((e, ordered[p.seq]))
    compared = 0
    for orders in by_loader.values():
        for (prev, _), (cur, started) in zip(orders, orders[1:]):
            compared += 1
            epoch = cur["data"]["set_epoch"]
            if epoch == prev["data"]["set_epoch"]:
                hits.add(f"the training loader's {cur['data'].get('sampler')} began epoch {started.get('epoch')} with "
                         f"sampler epoch {epoch}, as the epoch before: set_epoch() was not called, so it shuffled "
                         f"into the same order", started)
    found = hits.findings()
    evidence = (f"the sampler epoch changed at {compared}/{compared} boundaries between training epochs"
                if compared else "no shuffling sampler with an epoch (DistributedSampler) trained over two epochs")
    return r.result(found, evidence, applicable=compared > 0)


@rule(
    id="FX502", name="sync-every-micro-batch", severity="warning",
    summary="with DDP and gradient accumulation, gradients are all-reduced on every micro-batch (no no_sync)",
    what="""
For optimizer cycles that accumulate K>1 micro-batches, reads what each forward through a
DistributedDataParallel wrapper decided about its backward (DDP decides at forward time, from
`require_backward_grad_sync`, which `no_sync()` turns off). A micro-batch other than the cycle's
last whose backward all-reduced is flagged at that backward.""",
    why="""
Only the gradients of the whole cycle need to be averaged across ranks. All-reducing each
micro-batch's gradients gives the same update but pays the communication K times, which on
several GPUs or nodes can dominate the step time. The waste is silent: the loss curve is the same.""",
    example="""
for i, (x, y) in enumerate(loader):
    loss = criterion(model(x), y) / accum
    loss.backward()                       # all-reduces every micro-batch
    if (i + 1) % accum == 0:
        optimizer.step(); optimizer.zero_grad()""",
    instead="""
for i, (x, y) in enumerate(loader):
    last = (i + 1) % accum == 0
    with contextlib.nullcontext() if last else model.no_sync():
        loss = criterion(model(x), y) / accum
        loss.backward()
    if last:
        optimizer.step(); optimizer.zero_grad()""",
    limits="""
Judged only for forwards through torch's DistributedDataParallel; FSDP and other wrappers are not
read. A cycle is accumulation when its backward passes come from one line (as FX401 counts them).""",
    hint="wrap the forward and backward of every micro-batch but the last in `with model.no_sync():`",
)
def sync_every_micro_batch(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    if not events(g, ev.DDP_FORWARD):
        return r.result([], "no forward through a DistributedDataParallel wrapper", applicable=False)
    judged = 0
    for opt in stepped_optimizers(g):
        for cycle, backwards in accumulation_cycles(g, opt):
            forwards = [e for e in cycle.events if e["kind"] == ev.DDP_FORWARD and e["data"].get("grad_enabled")]
            if not forwards:
                continue
            judged += 1
            for i, backward in enumerate(backwards[:-1], start=1):
                forward = next((f for f in reversed(forwards) if f["seq"] < backward["seq"]), None)
                if forward is not None and forward["data"].get("sync"):
                    hits.add(f"micro-batch {i} of {len(backwards)} all-reduced its gradients in this backward "
                             f"(its forward through {forward['obj']} at {where(forward)} ran without no_sync)",
                             backward, cycle.index)
    found = hits.findings(checked=f"in {judged} accumulation cycles")
    evidence = (f"{judged}/{judged} accumulation cycles all-reduced only their last micro-batch" if judged
                else "no accumulation cycle through a DistributedDataParallel wrapper")
    return r.result(found, evidence, applicable=judged > 0)


@rule(
    id="FX503", name="ddp-wrapper-bypassed", severity="error",
    summary="a training forward ran through the module a DDP wrapper holds instead of the wrapper, or a new "
            "wrapper was built during training",
    what="""
Follows the module each DistributedDataParallel wrapper holds. A training forward of that module
(one a backward went through) that did not run inside its wrapper's forward is flagged at the
forward; so is a second wrapper built around the same module after optimizer steps had run.""",
    why="""
DDP all-reduces gradients only for backwards of forwards that went through the wrapper. A forward
of `model.module` (or of the module kept from before wrapping) trains each rank on its own
gradients: the replicas drift apart while every rank reports a plausible loss. Building a new
wrapper mid-training re-broadcasts rank 0's weights over the others' and re-registers the gradient
hooks; a trainer alternating between the module and fresh wrappers trains unsynchronized in between.""",
    example="""
net = Net()
model = DDP(net)
for x, y in loader:
    loss = criterion(net(x), y)           # the module, not the wrapper
    loss.backward()""",
    instead="""
model = DDP(Net())
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()
# evaluation through model.module under torch.no_grad() is fine""",
    limits="""
Only torch's DistributedDataParallel. A forward of one of the module's parts (`model.module.encoder`)
is not followed. Evaluation forwards (no backward) through the module are allowed.""",
    hint="call the DDP wrapper for every training forward, and build it once, before training",
)
def ddp_wrapper_bypassed(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    wraps = _wraps(g)
    if not wraps:
        return r.result([], "no DistributedDataParallel wrapper built", applicable=False)
    for e in events(g, ev.DDP_WRAP):
        previous = e["data"].get("previous")
        if previous and e["data"].get("after_steps"):
            first = wraps[e["data"].get("module")]
            hits.add(f"a new DistributedDataParallel wrapper was built around {e['data'].get('module')} after "
                     f"{e['data']['after_steps']} optimizer steps (the first at {where(first)})", e)
    through = bypassed = 0
    for e, wrap in _wrapped_training_forwards(g):
        if e["data"].get("through"):
            through += 1
            continue
        bypassed += 1
        hits.add(f"this training forward ran {e['obj']} itself, not its DistributedDataParallel wrapper built at "
                 f"{where(wrap)}: its backward did not all-reduce gradients", e)
    found = hits.findings(checked=f"of {through + bypassed} training forwards" if bypassed else None)
    evidence = (f"{through}/{through} training forwards of wrapped modules ran through their DDP wrapper, "
                f"each wrapper built once" if through else "no training forward of a DDP-wrapped module")
    return r.result(found, evidence, applicable=through > 0)


TRAINING_EVENTS = (ev.OPTIMIZER_STEP, ev.SCHEDULER_STEP)
_CALLS = {ev.OPTIMIZER_STEP: "optimizer step", ev.SCHEDULER_STEP: "scheduler step"}


def _compared(g: nx.DiGraph, other: nx.DiGraph) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The two ranks' training events to compare: all of them, or, when a rank stopped early (crashed),
    those of the epochs both ran to their end (in a loop without epochs: as many as both ran)."""
    mine, theirs = events(g, *TRAINING_EVENTS), events(other, *TRAINING_EVENTS)
    if not any(h.graph["meta"].get("status") == "crashed" for h in (g, other)):
        return mine, theirs
    if all(e.get("epoch") is None for e in mine + theirs):
        n = min(len(mine), len(theirs))
        return mine[:n], theirs[:n]
    done = min(max((e.get("epoch") or 0) for e in seq) if seq else 0 for seq in (mine, theirs)) - 1
    return [e for e in mine if (e.get("epoch") or 0) <= done], [e for e in theirs if (e.get("epoch") or 0) <= done]


def _key(e: dict[str, Any]) -> tuple:
    return e["kind"], e["obj"], e.get("epoch"), e.get("file"), e.get("line")


@rule(
    id="FX504", name="rank-divergence", severity="error",
    summary="ranks ran different sequences of training events (optimizer steps, scheduler steps, by epoch)",
    what="""
Compares the ranks' training events: each optimizer step and scheduler step with its epoch and
line. An event that this rank ran and another rank did not (more of them in that epoch, at that
line) is flagged on this rank at its line. When a rank crashed, only the epochs both completed are
compared.""",
    why="""
Data-parallel ranks must apply the same updates to stay replicas of one model. A scheduler stepped
only on rank 0 (inside `if rank == 0:` with the logging) gives the ranks different learning rates;
an extra or missing optimizer step on one rank desynchronizes the collectives of the next backward,
which then hang or pair the wrong buckets. Either way the ranks no longer train one model.""",
    example="""
optimizer.step()
if dist.get_rank() == 0:
    print(f"loss {loss.item():.3f}")
    scheduler.step()                      # rank 0 only""",
    instead="""
optimizer.step()
scheduler.step()                          # every rank
if dist.get_rank() == 0:
    print(f"loss {loss.item():.3f}")""",
    limits="""
Needs the traces of at least two ranks. Events are compared by kind, object, epoch and line, so two
ranks doing the same thing from different lines are reported as diverging.""",
    hint="run optimizer and scheduler steps on every rank; keep only logging and checkpointing rank-0-only",
)
def rank_divergence(g: nx.DiGraph, r: Rule) -> Check:
    peers, others = ranks_of(g), _others(g)
    if not others:
        return r.result([], SINGLE, applicable=False)
    hits = Occurrences(r)
    me = g.graph.get("rank")
    compared = steps = 0
    for n, other in sorted(others.items()):
        mine, theirs = _compared(g, other)
        compared = max(compared, len(mine))
        steps = max(steps, sum(1 for e in mine if e["kind"] == ev.OPTIMIZER_STEP))
        counts = Counter(_key(e) for e in theirs)
        seen: Counter = Counter()
        for e in mine:
            seen[_key(e)] += 1
            if seen[_key(e)] > counts[_key(e)]:
                mine_n, theirs_n = sum(1 for x in mine if _key(x) == _key(e)), counts[_key(e)]
                during = when(e.get("epoch"), None) or "the run"
                hits.add(f"rank {me} ran this {_CALLS[e['kind']]} of {e['obj']} in {during} and rank {n} did not"
                         if not theirs_n else f"rank {me} ran this {_CALLS[e['kind']]} of {e['obj']} {mine_n} times in "
                                              f"{during}, rank {n} {theirs_n} times", e)
    found = hits.findings()
    scheduled = compared - steps
    evidence = (f"{len(peers)} ranks ran the same {steps} optimizer steps and "
                + (f"{scheduled} scheduler steps" if scheduled else "no scheduler step") if compared
                else "no optimizer step to compare")
    return r.result(found, evidence, applicable=compared > 0)


def _checksums(g: nx.DiGraph) -> dict[tuple[str, int], dict[str, Any]]:
    return {(e["obj"], e["data"]["checksum_step"]): e for e in events(g, ev.OPTIMIZER_STEP)
            if e["data"].get("checksum") and isinstance(e["data"].get("checksum_step"), int)}


def _cause(peers: dict[int, nx.DiGraph], upto: dict[int, int], step: int, lrs: dict[int, Any]) -> str:
    """The likely cause of parameters that differ across ranks, from what each rank's trace shows
    before the step at which they were first seen to differ (`upto`: that step's seq on each rank)."""
    for n, h in sorted(peers.items()):
        for e in events(h, ev.OPTIMIZER_STEP):
            if e["seq"] > upto.get(n, -1):
                break
            for wrapper, how in (e["data"].get("ddp_changed") or {}).items():
                if how.get("converted"):
                    return (f"on rank {n} the parameters of the module under {wrapper} were converted after the "
                            f"wrapper was built ({', '.join(how['converted'][:3])}: new storage, dtype or device), "
                            f"so DDP's gradient hooks no longer fire")
                if how.get("replaced"):
                    return (f"on rank {n} parameters of the module under {wrapper} were replaced after the wrapper "
                            f"was built ({', '.join(how['replaced'][:3])}): DDP does not synchronize them")
    for n, h in sorted(peers.items()):
        bypass = next((e for e, _ in _wrapped_training_forwards(h)
                       if e["seq"] <= upto.get(n, -1) and not e["data"].get("through")), None)
        if bypass is not None:
            return f"on rank {n} a training forward at {where(bypass)} bypassed the DDP wrapper (FX503)"
    if len({repr(v) for v in lrs.values()}) > 1:
        return "the ranks' learning rates differ at this step (" + ", ".join(
            f"rank {n}: {v}" for n, v in sorted(lrs.items())) + ")"
    return "no cause was recorded (a change made on one rank outside the optimizer, or gradients DDP did not reduce)"


@rule(
    id="FX505", name="parameters-diverge-across-ranks", severity="error",
    summary="after the same optimizer step, the ranks' parameter checksums differ (with the likely cause)",
    what="""
In a distributed run with a DistributedDataParallel wrapper, every rank takes a checksum of the
exact bits of the parameters its optimizer steps after steps 1, 2, 4, 8 and every 8th (read only).
After the run the ranks' checksums of the same step are compared; the first step after which they
differ is flagged at the step, with the likely cause when the trace shows one: parameters replaced
or converted (a dtype round trip, `.to()`) after the wrapper was built, a forward that bypassed the
wrapper, learning rates that differ across ranks.""",
    why="""
Data-parallel ranks hold replicas of one model: after each synchronized step their parameters are
bitwise equal. Once they differ, each rank trains its own model, the checkpoint saved by rank 0 is
only one of them, and evaluation on rank 0 no longer describes what the other ranks compute. None
of this raises an error.""",
    example="""
model = DDP(net)
model.module.double()                     # converted after wrapping:
model.module.float()                      # DDP's gradient hooks no longer fire
for x, y in loader:
    criterion(model(x), y).backward()
    optimizer.step()""",
    instead="""
net = net.to(device, dtype)               # convert first
model = DDP(net)                          # then wrap, and never convert again""",
    limits="""
Needs the traces of at least two ranks and a DDP wrapper (ranks that train their own models on
purpose are not judged). Only the parameters an optimizer steps are summed, at the steps named above;
a divergence that appears and heals between two of them is missed.""",
    hint="wrap the module after converting it, train through the wrapper, and keep LR changes on every rank",
)
def parameters_diverge(g: nx.DiGraph, r: Rule) -> Check:
    peers, others = ranks_of(g), _others(g)
    if not others:
        return r.result([], SINGLE, applicable=False)
    if not any(events(h, ev.DDP_WRAP) for h in peers.values()):
        return r.result([], "no DistributedDataParallel wrapper: the ranks may train models of their own",
                        applicable=False)
    mine = _checksums(g)
    theirs = {n: _checksums(h) for n, h in others.items()}
    me = g.graph.get("rank")
    compared: list[tuple[str, int]] = []
    for key, e in sorted(mine.items(), key=lambda item: item[1]["seq"]):
        at = {n: c[key] for n, c in theirs.items() if key in c}
        if not at:
            continue
        differ = {n: x for n, x in at.items() if x["data"]["checksum"] != e["data"]["checksum"]}
        if not differ:
            compared.append(key)
            continue
        opt, step = key
        upto = {me: e["seq"], **{n: x["seq"] for n, x in at.items()}}
        lrs = {me: e["data"].get("lr"), **{n: x["data"].get("lr") for n, x in at.items()}}
        sums = ", ".join(f"rank {n}: {x['data']['checksum'][:8]}" for n, x in sorted({me: e, **at}.items()))
        last = f"; they were equal after step {compared[-1][1]}" if compared else ""
        message = (f"after step {step} of {opt} the parameters differ across ranks ({sums}){last}; likely cause: "
                   f"{_cause(peers, upto, step, lrs)}")
        return r.result([r.finding(message, e, step)], f"parameters first differed after step {step}")
    evidence = (f"{len(peers)} ranks held bitwise-equal parameters after {len(compared)}/{len(compared)} "
                f"compared optimizer steps ({', '.join(str(s) for _, s in compared[:6])}"
                f"{'...' if len(compared) > 6 else ''})") if compared else "no parameter checksum taken at a common step"
    return r.result([], evidence, applicable=bool(compared))
