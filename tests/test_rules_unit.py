"""Rules on hand-built event graphs: each FX1xx rule fails on its pattern and passes on the fix."""

from __future__ import annotations

import pytest

from fxcheck import events as ev
from fxcheck import graph
from fxcheck.events import Event, Site, TrackedObject
from fxcheck.rules import FAIL, NA, PASS, all_rules, get

OPT, SCALER, SCHED = "optimizer#1", "scaler#1", "scheduler#1"


class Script:
    """Builds a trace event by event; `line` is the user's line of each event."""

    def __init__(self, scaler_enabled: bool = True, status: str = "stopped") -> None:
        self.events: list[Event] = []
        self.objects = [
            TrackedObject(OPT, ev.OPTIMIZER, "SGD", Site("t.py", 1), {"params": 2}),
            TrackedObject(SCALER, ev.SCALER, "GradScaler", Site("t.py", 2), {"enabled": scaler_enabled}),
            TrackedObject(SCHED, ev.SCHEDULER, "StepLR", Site("t.py", 3), {"optimizer": OPT}),
        ]
        self.status = status

    def add(self, kind: str, line: int, obj: str | None = None, **data) -> "Script":
        self.events.append(Event(len(self.events), kind, Site("t.py", line, "main"), obj, data))
        return self

    def backward(self, line=10, scaled=False, touched=2):
        return self.add(ev.BACKWARD, line, scaled=scaled, touched={OPT: touched} if touched else {})

    def step(self, line=12, fresh=2, stale=0, cleared=0, via_scaler=None):
        return self.add(ev.OPTIMIZER_STEP, line, OPT, fresh=fresh, stale=stale, cleared_before_step=cleared,
                        params=2, via_scaler=via_scaler, closure=False)

    def zero(self, line=9):
        return self.add(ev.GRAD_CLEAR, line, OPT, via="optimizer.zero_grad", cleared={OPT: 2})

    def clip(self, line=11):
        return self.add(ev.CLIP, line, function="clip_grad_norm_", optimizers=[OPT])

    def scale(self, line=10):
        return self.add(ev.SCALER_SCALE, line, SCALER)

    def unscale(self, line=11, internal=False):
        return self.add(ev.SCALER_UNSCALE, line, SCALER, optimizer=OPT, internal=internal)

    def scaler_step(self, line=13, skipped=False):
        if not skipped:
            self.step(line, via_scaler=SCALER)
        return self.add(ev.SCALER_STEP, line, SCALER, optimizer=OPT, skipped=skipped, enabled=True)

    def update(self, line=14):
        return self.add(ev.SCALER_UPDATE, line, SCALER, scale_before=65536.0, scale_after=65536.0)

    def sched(self, line=15):
        return self.add(ev.SCHEDULER_STEP, line, SCHED, optimizer=OPT, lr=[0.1])

    def check(self, rule_id: str):
        g = graph.build(graph.Trace({"status": self.status}, self.objects, self.events))
        r = get(rule_id)
        return r.check(g, r)


def amp_cycle(s: Script, clip_first=False, n=1):
    for _ in range(n):
        s.zero().scale().backward(scaled=True)
        if clip_first:
            s.clip().unscale()
        else:
            s.unscale().clip()
        s.scaler_step().update()
    return s


def test_fx101_stale_and_clean():
    bad = Script().backward().step().backward().step(stale=2)
    res = bad.check("FX101")
    assert res.status == FAIL and res.findings[0].line == 10 and res.findings[0].step == 2
    good = Script().zero().backward().step().zero().backward().step()
    assert good.check("FX101").status == PASS
    assert Script().backward().step().check("FX101").status == NA


def test_fx102_step_without_backward():
    res = Script().zero().backward().step().zero().step(fresh=0).check("FX102")
    assert res.status == FAIL and res.findings[0].line == 12
    assert Script().zero().backward().step().check("FX102").status == PASS
    # an optimizer over frozen parameters only: no step could consume gradients, so no pass either
    frozen = Script().zero().backward(touched=0)
    frozen.step(fresh=0)
    frozen.events[-1].data["trainable"] = 0
    for rule_id in ("FX102", "FX103"):
        res = frozen.check(rule_id)
        assert res.status == NA, (rule_id, res.evidence)


def test_fx103_cleared_between_backward_and_step():
    res = Script().backward().zero(line=11).step(fresh=0, cleared=2).check("FX103")
    assert res.status == FAIL and res.findings[0].line == 11
    assert Script().zero().backward().step().check("FX103").status == PASS
    # FX103 and FX102 do not both fire on one step
    assert Script().backward().zero(line=11).step(fresh=0, cleared=2).check("FX102").status == PASS


def test_fx104_clip_before_unscale():
    res = amp_cycle(Script(), clip_first=True, n=2).check("FX104")
    assert res.status == FAIL and res.findings[0].line == 11
    assert amp_cycle(Script(), n=2).check("FX104").status == PASS
    # a disabled scaler: nothing is scaled, nothing to check
    assert amp_cycle(Script(scaler_enabled=False), clip_first=True).check("FX104").status == NA


def test_fx105_clip_after_step():
    res = Script().zero().backward().step().clip(line=13).zero().backward().step().check("FX105")
    assert res.status == FAIL and res.findings[0].line == 13
    assert Script().zero().backward().clip().step().zero().backward().clip().step().check("FX105").status == PASS
    # clipping with no optimizer step to order it against earns no pass
    res = Script().zero().backward().clip().zero().backward().clip().check("FX105")
    assert res.status == NA and "none in a cycle that ended in an optimizer step" in res.evidence


def test_fx106_direct_step_after_scaled_backward():
    s = Script().zero().scale().backward(scaled=True).unscale().step(line=12).update()
    res = s.check("FX106")
    assert res.status == FAIL and res.findings[0].line == 12
    assert amp_cycle(Script(), n=2).check("FX106").status == PASS


def test_fx107_unscaled_backward_in_scaler_cycle():
    s = Script().zero().scale().backward(scaled=True).backward(line=20, scaled=False).scaler_step().update()
    res = s.check("FX107")
    assert res.status == FAIL and res.findings[0].line == 20
    assert amp_cycle(Script(), n=2).check("FX107").status == PASS


def test_fx108_missing_and_double_update():
    missing = Script().zero().scale().backward(scaled=True).scaler_step(line=13).zero().scale().backward(scaled=True)
    res = missing.check("FX108")
    assert res.status == FAIL and res.findings[0].line == 13
    double = amp_cycle(Script()).update(line=16)
    res = double.check("FX108")
    assert res.status == FAIL and res.findings[0].line == 16
    assert amp_cycle(Script(), n=3).check("FX108").status == PASS
    # a run cut right after a step is not a missing update
    assert Script().zero().scale().backward(scaled=True).scaler_step().check("FX108").status != FAIL
    # but a completed run that ends without update is
    ended = Script(status="completed").zero().scale().backward(scaled=True).scaler_step(line=13)
    assert ended.check("FX108").status == FAIL


def test_fx109_scheduler_first_and_skipped_exemption():
    res = Script().sched(line=5).zero().backward().step().check("FX109")
    assert res.status == FAIL and res.findings[0].line == 5
    assert Script().zero().backward().step().sched().check("FX109").status == PASS
    # the GradScaler skipped the first step (inf/NaN): the scheduler stepping first is expected
    skipped = Script().zero().scale().backward(scaled=True).scaler_step(skipped=True).update().sched()
    assert skipped.check("FX109").status == PASS


def test_registry_ids_names_and_docs():
    rules = all_rules()
    assert len({r.id for r in rules}) == len(rules) and len({r.name for r in rules}) == len(rules)
    for r in rules:
        assert r.severity in ("error", "warning", "info")
        for section in (r.what, r.why, r.example, r.instead, r.limits, r.hint):
            assert section.strip(), r.id


@pytest.mark.parametrize("rule", [r.id for r in all_rules()])
def test_every_rule_is_na_or_pass_on_an_empty_trace(rule):
    assert Script().check(rule).status in (PASS, NA)


# -- FX2xx and FX601 ---------------------------------------------------------------------------

def created(s: Script, key: str, type_: str, line: int, cls: str = "Adam", **attrs) -> Script:
    s.objects.append(TrackedObject(key, type_, cls, Site("t.py", line), attrs))
    return s.add(ev.OBJECT_CREATED, line, key)


def test_fx201_optimizer_rebuilt_over_stepped_parameters():
    s = Script().zero().backward().step()
    created(s, "optimizer#2", ev.OPTIMIZER, 30, shares_stepped={OPT: 2})
    res = s.check("FX201")
    assert res.status == FAIL and res.findings[0].line == 30
    assert Script().zero().backward().step().check("FX201").status == PASS


def test_fx202_step_count_going_backwards():
    s = Script()
    for count in (1, 2, 1):
        s.zero().backward().step().events[-1].data.update(state_step=count, state_size=2)
    res = s.check("FX202")
    assert res.status == FAIL and res.findings[0].line == 12
    good = Script()
    for count in (1, 2, 3):
        good.zero().backward().step().events[-1].data.update(state_step=count, state_size=2)
    assert good.check("FX202").status == PASS


def test_fx203_scaler_built_after_another_stepped():
    s = amp_cycle(Script())
    s.objects.append(TrackedObject("scaler#2", ev.SCALER, "GradScaler", Site("t.py", 40), {"enabled": True}))
    s.add(ev.OBJECT_CREATED, 40, "scaler#2")
    res = s.check("FX203")
    assert res.status == FAIL and res.findings[0].line == 40
    assert amp_cycle(Script(), n=2).check("FX203").status == PASS


def test_fx204_scheduler_rebuilt_for_the_same_optimizer():
    s = Script().zero().backward().step().sched()
    created(s, "scheduler#2", ev.SCHEDULER, 50, cls="StepLR", optimizer=OPT)
    res = s.check("FX204")
    assert res.status == FAIL and res.findings[0].line == 50
    assert Script().zero().backward().step().sched().check("FX204").status == PASS


def test_fx205_backward_reaching_unheld_parameters():
    s = Script().zero().backward(line=22)
    s.events[-1].data.update(orphans=2, orphan_shapes=[[5, 8], [5]])
    s.step()
    res = s.check("FX205")
    assert res.status == FAIL and res.findings[0].line == 22
    ok = Script().zero().backward()
    ok.events[-1].data.update(orphans=0)
    assert ok.check("FX205").status == PASS


def test_fx205_parameters_updated_by_hand_are_trained():
    # `p.data.add_(p.grad, alpha=-lr)` with no optimizer: the capture saw both orphans change
    s = Script().zero().backward(line=22, touched=0)
    s.events[-1].data.update(orphans=2, orphan_shapes=[], hand_updated=2)
    s.add(ev.HAND_UPDATE, 0, backward=1, params=2, of=2)
    res = s.check("FX205")
    assert res.status == PASS and "updated by hand" in res.evidence
    # only some of them changed: the others never train
    s = Script().zero().backward(line=22, touched=0)
    s.events[-1].data.update(orphans=3, orphan_shapes=[[5]], hand_updated=2)
    s.add(ev.HAND_UPDATE, 0, backward=1, params=2, of=3)
    res = s.check("FX205")
    assert res.status == FAIL and "1 parameter(s)" in res.findings[0].message and "2 other(s)" in res.findings[0].message


def test_fx206_same_prefix_in_consecutive_passes():
    def run(prefixes):
        s = created(Script(), "loader#1", ev.LOADER, 5, cls="DataLoader")
        for prefix in prefixes:
            s.add(ev.RNG_SEED, 60, seed=0)
            s.add(ev.SAMPLER_ORDER, 61, "loader#1", prefix=prefix, shuffle=True)
            s.zero().backward().step()
        return s.check("FX206")

    res = run([[3, 1, 2], [3, 1, 2]])
    assert res.status == FAIL and res.findings[0].line == 60
    assert run([[3, 1, 2], [2, 3, 1]]).status == PASS


def test_fx601_weights_only_checkpoint_unless_a_full_one_exists():
    weights = {"model_tensors": 4, "optimizer_state": 0, "scaler_state": 0, "scheduler_state": 0}
    full = dict(weights, optimizer_state=1)
    s = Script(status="completed").zero().backward().step().add(ev.CHECKPOINT, 70, target="ckpt.pt", **weights)
    # the final weights (no step after the save, the script ran to its end) are an export, not a resume point
    assert s.check("FX601").status == NA
    s.zero().backward().step()  # training goes on after the save with the same optimizer
    res = s.check("FX601")
    assert res.status == FAIL and res.findings[0].line == 70 and "from ckpt.pt" in res.findings[0].message
    # fxcheck cut the run right after the save: the loop would have gone on, so it is a resume point
    cut = Script(status="stopped").zero().backward().step().add(ev.CHECKPOINT, 70, target="ckpt.pt", **weights)
    assert cut.check("FX601").status == FAIL
    # a pickled module or a best-model file is an export
    for export in ({"target": "model.pt", "whole_module": True}, {"target": "runs/model_best.pth"}):
        s = Script().zero().backward().step().add(ev.CHECKPOINT, 70, **export, **weights).zero().backward().step()
        assert s.check("FX601").status == NA, export
    both = Script().zero().backward().step().add(ev.CHECKPOINT, 70, target="best.pt", **weights)
    both.add(ev.CHECKPOINT, 71, target="last.pt", **full).zero().backward().step()
    assert both.check("FX601").status == PASS


def loader_pass(s: Script, line: int, training=True, **data) -> Script:
    if not any(o.key == "loader#1" for o in s.objects):
        s.objects.append(TrackedObject("loader#1", ev.LOADER, "DataLoader", Site("t.py", 4), {}))
    base = {"training": training, "batches": 4, "length": 4, "accumulation": 2, "augmented": {}}
    return s.add(ev.LOADER_PASS, line, "loader#1", **{**base, **data})


def test_fx207_accumulator_carried_and_reset():
    def run(second_start):
        s = loader_pass(Script(), 20, locals_start={"running_loss": 0.0, "global_step": 0.0},
                        locals_end={"running_loss": 5.0, "global_step": 4.0}, augmented={"running_loss": 25})
        loader_pass(s, 20, locals_start={"running_loss": second_start, "global_step": 4.0},
                    locals_end={"running_loss": second_start + 5, "global_step": 8.0})
        return s.check("FX207")

    res = run(5.0)
    assert res.status == FAIL and res.findings[0].line == 25 and len(res.findings) == 1  # global_step persists
    assert run(0.0).status == PASS


def test_fx401_unnormalized_accumulation_but_not_two_losses():
    def run(divisor, lines=(30, 30)):
        s = Script().zero()
        for _ in range(2):
            for line in lines:
                s.backward(line=line).events[-1].data["divisor"] = divisor
            s.step().zero()
        return s.check("FX401")

    res = run(1.0)
    assert res.status == FAIL and res.findings[0].line == 30
    assert run(2.0).status == PASS
    assert run(1.0, lines=(30, 31)).status == NA  # a GAN's real and fake terms: not accumulation


def test_fx402_leftover_micro_batches_cleared_at_the_next_epoch():
    s = Script()
    loader_pass(s, 20, batches=3, length=3, accumulation=2)
    for i in range(3):
        s.add(ev.LOADER_BATCH, 21, "loader#1", index=i)
        s.backward(line=22)
        if i == 1:
            s.step().zero(line=24)
    loader_pass(s, 20, batches=3, length=3, accumulation=2)  # the next epoch: its first zero_grad drops the tail
    s.add(ev.GRAD_CLEAR, 19, OPT, via="optimizer.zero_grad", cleared={OPT: 2}, dropped={OPT: 2})
    s.add(ev.LOADER_BATCH, 21, "loader#1", index=0).backward(line=22)
    res = s.check("FX402")
    assert res.status == FAIL and res.findings[0].line == 19
    truncated = Script()
    loader_pass(truncated, 20, batches=3, length=10, accumulation=2)  # 3 % 2 != 10 % 2: a cut, not the real end
    for i in range(3):
        truncated.add(ev.LOADER_BATCH, 21, "loader#1", index=i).backward(line=22)
    loader_pass(truncated, 20, batches=3, length=10, accumulation=2)
    truncated.add(ev.GRAD_CLEAR, 19, OPT, via="optimizer.zero_grad", cleared={OPT: 2}, dropped={OPT: 2})
    truncated.add(ev.LOADER_BATCH, 21, "loader#1", index=0).backward(line=22)
    assert truncated.check("FX402").status != FAIL


def test_fx403_total_of_divided_losses():
    def run(delta, per_step=4):
        s = loader_pass(Script(), 20, divided_loss_sum=2.0, loss_divisor=4.0, locals_start={"train_loss": 0.0},
                        locals_end={"train_loss": delta}, augmented={"train_loss": 33})
        for i in range(4):
            s.add(ev.LOADER_BATCH, 21, "loader#1", index=i).backward(line=22)
            if (i + 1) % per_step == 0:
                s.step().zero(line=24)
        return s.check("FX403")

    res = run(2.0)
    assert res.status == FAIL and res.findings[0].line == 33
    assert run(8.0).status == PASS
    # without accumulation a divided loss (a mean of two terms) is the real loss: not judged
    assert run(2.0, per_step=1).status == NA


def test_readme_lists_every_rule():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for r in all_rules():
        assert f"| {r.id} | {r.name} | {r.severity} | {r.summary} |" in readme, r.id


def test_fx301_step_while_model_in_eval_mode():
    s = Script().zero().backward().step()
    s.events[-1].data["eval_mode_models"] = ["model#1"]
    res = s.check("FX301")
    assert res.status == FAIL and res.findings[0].line == 12
    assert Script().zero().backward().step().check("FX301").status == PASS


def evaluation_after_training(**forward) -> Script:
    """One training cycle (a forward a backward went through), then an evaluation pass of 2 batches over
    loader#2 at line 50 whose forwards have the given facts."""
    s = Script()
    s.objects.append(TrackedObject("loader#2", ev.LOADER, "DataLoader", Site("t.py", 5), {}))
    s.add(ev.MODEL_FORWARD, 8, "model#1", training=True, grad_enabled=True, mode_layers=2, trained=True)
    s.zero().backward().step()
    s.add(ev.LOADER_PASS, 50, "loader#2", index=0, length=2, cut=2, batches=2)
    pass_seq = len(s.events) - 1
    base = {"training": False, "grad_enabled": False, "mode_layers": 2, "train_layers": {}, "stats_before": 3,
            "stats_after": 3, "recorded": False}
    for i in range(2):
        s.add(ev.LOADER_BATCH, 50, "loader#2", index=i)
        s.add(ev.MODEL_FORWARD, 51, "model#1", **{**base, **forward})
    s.add(ev.LOADER_END, 50, "loader#2", **{"pass": pass_seq}, reason="exhausted", batches=2)
    return s


def test_fx302_fx303_fx304_on_evaluation_phases():
    bad = evaluation_after_training(training=True, grad_enabled=True, train_layers={"BatchNorm1d": 1, "Dropout": 1},
                                    stats_after=5, recorded=True)
    assert bad.check("FX302").status == FAIL and bad.check("FX302").findings[0].line == 50
    assert bad.check("FX303").status == FAIL
    assert bad.check("FX304").status == FAIL
    good = evaluation_after_training()
    assert [good.check(r).status for r in ("FX302", "FX303", "FX304")] == [PASS, PASS, PASS]
    assert "1/1 evaluation phases (2 forwards)" in good.check("FX302").evidence
    # Monte-Carlo dropout: Dropout in train mode inside an eval-mode model is allowed; BatchNorm is not
    assert evaluation_after_training(train_layers={"Dropout": 1}).check("FX302").status == PASS
    assert evaluation_after_training(train_layers={"BatchNorm1d": 1}).check("FX302").status == FAIL
    # no BatchNorm with running statistics: FX303 has nothing to judge
    no_stats = evaluation_after_training(stats_before=None, stats_after=None)
    assert no_stats.check("FX303").status == NA


def test_forwards_inside_a_training_iteration_are_not_evaluation():
    s = Script()
    s.objects.append(TrackedObject("loader#1", ev.LOADER, "DataLoader", Site("t.py", 4), {}))
    s.add(ev.LOADER_PASS, 20, "loader#1", index=0, length=4, cut=4, batches=2)
    for i in range(2):  # a no_grad forward for pseudo-labels, then the training forward of the same batch
        s.add(ev.LOADER_BATCH, 20, "loader#1", index=i)
        s.add(ev.MODEL_FORWARD, 21, "model#1", training=True, grad_enabled=False, mode_layers=2)
        s.add(ev.MODEL_FORWARD, 22, "model#1", training=True, grad_enabled=True, mode_layers=2, trained=True)
        s.zero().backward().step()
    g = graph.build(graph.Trace({"status": "stopped"}, s.objects, s.events))
    assert graph.evaluation_phases(g) == []
    assert get("FX302").check(g, get("FX302")).status == NA


def test_fx305_inventory_from_captured_graphs():
    layers = [{"kind": "dropout", "type": "Dropout", "training": True, "running_stats": False, "count": 6},
              {"kind": "norm", "type": "LayerNorm", "training": None, "running_stats": False, "count": 24}]
    s = Script().add(ev.MODEL_GRAPH, 30, "model#1", phase="train", source="fxcheck", graphs=1, layers=layers)
    s.add(ev.MODEL_GRAPH, 40, "model#1", phase="eval", source="fxcheck", graphs=0, note="Dynamo could not trace")
    res = s.check("FX305")
    assert res.status == PASS and not res.findings
    assert "LayerNorm ×24 (no running stats; same in both modes)" in res.evidence
    assert "Dropout ×6 (active)" in res.evidence and "running stats ×0" in res.evidence
    assert "eval (model#1): capture failed, no inventory (Dynamo could not trace)" in res.evidence
    # a capture that failed everywhere earns no pass; a partial one says what may be missing
    res = Script().add(ev.MODEL_GRAPH, 40, "model#1", phase="train", source="fxcheck", graphs=0, note="x").check("FX305")
    assert res.status == NA and "capture failed" in res.evidence
    res = Script().add(ev.MODEL_GRAPH, 30, "model#1", phase="train", source="fxcheck", graphs=2, layers=layers,
                       breaks=["Tensor.item"]).check("FX305")
    assert res.status == PASS and "partial: 2 graphs split at graph breaks (Tensor.item)" in res.evidence
    bn = [{"kind": "norm", "type": "BatchNorm2d", "training": False, "running_stats": True, "count": 2}]
    res = Script().add(ev.MODEL_GRAPH, 40, "model#1", phase="eval", source="fxcheck", graphs=1, layers=bn).check("FX305")
    assert "BatchNorm2d ×2 (keeps running stats; eval mode)" in res.evidence and "×0" not in res.evidence
    assert Script().check("FX305").status == NA


def test_graph_facts_read_training_flags_running_stats_and_dtypes():
    import torch
    from torch import nn

    from fxcheck.capture.dynamo import graph_facts

    graphs = []

    def backend(gm, example_inputs):
        graphs.append(graph_facts(gm))
        return gm.forward

    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.BatchNorm1d(8, track_running_stats=False),
                          nn.Dropout(0.5), nn.LayerNorm(8))
    model.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.compile(model, backend=backend, dynamic=False)(torch.randn(3, 4))
    facts = graphs[0]
    layers = {(x["type"], x["training"], x["running_stats"]): x["count"] for x in facts["layers"]}
    # eval mode: BatchNorm with stats runs in eval; without stats it always uses batch statistics
    assert layers == {("BatchNorm1d", False, True): 1, ("BatchNorm1d", True, False): 1, ("Dropout", False, False): 1,
                      ("LayerNorm", None, False): 1}
    assert facts["dtypes"]["bfloat16"]["linear"] == 1 and facts["modules"]["BatchNorm1d"] == 2


# -- FX5xx: one rank's trace, and ranks compared ---------------------------------------------------

def _ranks(*scripts: Script) -> list:
    from fxcheck.rules.distributed import link_ranks

    graphs = {n: graph.build(graph.Trace({"status": s.status}, s.objects, s.events)) for n, s in enumerate(scripts)}
    link_ranks(graphs)
    return [graphs[n] for n in sorted(graphs)]


def _judge(rule_id: str, g):
    r = get(rule_id)
    return r.check(g, r)


def ddp_cycle(s: Script, syncs=(False, True), lr=0.1, checksum=None, n=None):
    s.zero()
    for sync in syncs:
        s.add(ev.DDP_FORWARD, 8, "ddp#1", module="model#1", grad_enabled=True, sync=sync).backward()
    s.add(ev.OPTIMIZER_STEP, 12, OPT, fresh=2, stale=0, cleared_before_step=0, params=2, via_scaler=None,
          closure=False, lr=lr, **({"checksum": checksum, "checksum_step": n} if checksum else {}))
    return s


def test_fx502_flags_micro_batches_that_all_reduce_and_passes_no_sync():
    bad = ddp_cycle(ddp_cycle(Script(), syncs=(True, True)), syncs=(True, True))
    res = bad.check("FX502")
    assert res.status == FAIL and res.findings[0].line == 10 and "micro-batch 1 of 2" in res.findings[0].message
    assert ddp_cycle(ddp_cycle(Script())).check("FX502").status == PASS
    assert ddp_cycle(ddp_cycle(Script(), syncs=(True,)), syncs=(True,)).check("FX502").status == NA  # no accumulation
    assert Script().zero().backward().step().check("FX502").status == NA  # no DDP


def test_fx504_reports_the_extra_events_on_the_rank_that_ran_them():
    wrap = lambda s: s.add(ev.DDP_WRAP, 5, "ddp#1", module="model#1", previous=None, after_steps=0, params=2)
    rank0 = ddp_cycle(wrap(Script())).sched()
    rank1 = ddp_cycle(wrap(Script()))
    g0, g1 = _ranks(rank0, rank1)
    res0, res1 = _judge("FX504", g0), _judge("FX504", g1)
    assert res0.status == FAIL and res0.findings[0].line == 15 and "rank 1 did not" in res0.findings[0].message
    assert res1.status == PASS  # rank 1 ran nothing rank 0 did not
    assert Script().zero().backward().step().check("FX504").status == NA  # a single process
    same = _ranks(ddp_cycle(wrap(Script())).sched(), ddp_cycle(wrap(Script())).sched())
    assert all(_judge("FX504", g).status == PASS for g in same)


def test_fx505_first_differing_checksum_with_its_likely_cause():
    wrap = lambda s: s.add(ev.DDP_WRAP, 5, "ddp#1", module="model#1", previous=None, after_steps=0, params=2)
    rank0 = ddp_cycle(ddp_cycle(wrap(Script()), checksum="aa", n=1), checksum="bb", n=2)
    rank1 = ddp_cycle(ddp_cycle(wrap(Script()), checksum="aa", n=1), checksum="cc", n=2, lr=0.01)
    g0, g1 = _ranks(rank0, rank1)
    res = _judge("FX505", g0)
    assert res.status == FAIL and res.findings[0].line == 12 and res.findings[0].step == 2
    assert "equal after step 1" in res.findings[0].message and "learning rates differ" in res.findings[0].message
    equal = _ranks(ddp_cycle(wrap(Script()), checksum="aa", n=1), ddp_cycle(wrap(Script()), checksum="aa", n=1))
    assert _judge("FX505", equal[0]).status == PASS
    own = _ranks(ddp_cycle(Script(), checksum="aa", n=1), ddp_cycle(Script(), checksum="bb", n=1))
    assert _judge("FX505", own[0]).status == NA  # no DDP wrapper: ranks may train models of their own


# -- FX208 / FX209: what the optimizer steps actually updated ------------------------------------------
def _unfed(status: str, trainable: int, other_trains: bool, backward: bool = True) -> Script:
    s = Script(status=status)
    s.objects.append(TrackedObject("optimizer#2", ev.OPTIMIZER, "Adam", Site("t.py", 4), {"params": 2}))
    for _ in range(3):
        s.zero()
        if backward:
            s.backward(touched=2 if other_trains else 0)
        if other_trains:
            s.step()
        s.add(ev.OPTIMIZER_STEP, 13, "optimizer#2", fresh=0, stale=0, cleared_before_step=0, params=2,
              trainable=trainable, closure=False)
    return s


def test_fx208_an_optimizer_that_never_had_a_gradient_unless_the_cut_may_explain_it():
    frozen = _unfed("completed", trainable=0, other_trains=False)
    res = frozen.check("FX208")
    assert res.status == FAIL and res.findings[0].line == 13 and "requires_grad=False" in res.findings[0].message
    # cut while another optimizer trains: frozen parameters may be unfrozen later in the run
    waiting = _unfed("stopped", trainable=0, other_trains=True).check("FX208")
    assert waiting.status == PASS and "not judged: optimizer#2" in waiting.evidence
    assert _unfed("completed", trainable=0, other_trains=True).check("FX208").status == FAIL
    # trainable parameters no backward reached: no schedule explains that, cut or not; FX102 leaves it to FX208
    detached = _unfed("stopped", trainable=2, other_trains=True)
    assert detached.check("FX208").status == FAIL and "no backward reached them" in detached.check("FX208").findings[0].message
    assert detached.check("FX102").status == PASS
    # no backward in the whole run: the backward is missing, FX102's finding
    missing = _unfed("completed", trainable=2, other_trains=False, backward=False)
    assert missing.check("FX208").status == NA and missing.check("FX102").status == FAIL


def test_fx209_frozen_after_updates_unless_unfrozen_again():
    def run(frozen_at: list[int]) -> Script:
        s = Script()
        for i in range(5):
            s.zero().backward().step()
            if i in frozen_at:
                s.events[-1].data["frozen_updated"] = 2
        return s

    res = run([2, 3, 4]).check("FX209")
    assert res.status == FAIL and res.findings[0].step == 3 and "from step 3" in res.findings[0].message
    toggled = run([1, 2]).check("FX209")
    assert toggled.status == PASS and "unfrozen again" in toggled.evidence
    assert run([]).check("FX209").status == PASS


def test_graph_facts_tell_dropout_that_ignores_eval_mode_from_dropout_layers():
    import torch
    import torch.nn.functional as F
    from torch import nn

    from fxcheck.capture.dynamo import graph_facts

    class Block(nn.Module):
        def __init__(self, gated: bool) -> None:
            super().__init__()
            self.gated, self.qkv, self.drop = gated, nn.Linear(8, 24), nn.Dropout(0.1)

        def forward(self, x):
            q, k, v = self.qkv(x).chunk(3, -1)
            p = 0.3 if self.training or not self.gated else 0.0
            h = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            h = F.dropout(h, 0.2, training=self.training if self.gated else True)
            return self.drop(h)

    def active(gated: bool, mc: bool) -> list:
        graphs = []

        def backend(gm, example_inputs):
            graphs.append(graph_facts(gm))
            return gm.forward

        model = nn.Sequential(Block(gated)).eval()
        if mc:
            model[0].drop.train()  # MC dropout: the Dropout layer itself switched on
        torch.compile(model, backend=backend, dynamic=False)(torch.randn(2, 4, 8))
        return [(a["op"], a["type"], a["path"], a["p"]) for a in graphs[0]["active_dropout"]]

    assert active(gated=False, mc=False) == [("scaled_dot_product_attention", "Block", "0", 0.3),
                                             ("dropout", "Block", "0", 0.2)]
    assert active(gated=True, mc=True) == []  # gated on self.training; the Dropout layer on purpose
