"""How fxcheck's cost grows with the length of a run, at about 1k, 10k and 100k events.

A tiny model trained for N optimizer steps in a loop without a DataLoader (`--steps N` cuts it after N
steps: 4 events a step). For each N, measured in fresh processes:
  events, trace bytes       the trace `fxcheck trace --save` wrote
  trace peak MB             peak resident memory of the traced run
  json.load s               a plain `python -c "json.load(open(TRACE))"` of that trace (the floor)
  check s, check peak MB    `fxcheck check TRACE -q`: load, validate, build the graph, every rule
  show s                    `fxcheck show TRACE`: the AMP timeline, to /dev/null
  check / json.load         the ratio the target is set on (<= 3 at 100k events)
Times are medians of --rounds runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 3.0  # check within 3x a plain json.load of the same trace, at 100k events
SIZES = (250, 2500, 25000)  # optimizer steps: about 1k, 10k and 100k events (4 a step)

WORKLOAD = """
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(32, 8), torch.randn(32, 1)
for step in range(10**9):
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.step()
"""

# runs argv[1:] and prints its wall time and peak resident memory (KiB) as JSON
MEASURED = ("import json, resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
            "print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code]))")


def measured(*cmd: str) -> tuple[float, float]:
    """Wall seconds and peak MB of one run of cmd in a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURED, *cmd], capture_output=True, text=True, check=True)
    seconds, kib, code = json.loads(out.stdout)
    if code not in (0, 1):  # 1: error findings, a result like any other here
        raise SystemExit(f"{' '.join(cmd)} exited {code}")
    return seconds, kib / 1024


def median_of(rounds: int, *cmd: str) -> tuple[float, float]:
    runs = [measured(*cmd) for _ in range(rounds)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def measure(steps: int, rounds: int, folder: Path) -> dict:
    script, trace = folder / "long_run.py", folder / f"trace-{steps}.json"
    script.write_text(WORKLOAD)
    fx = [sys.executable, "-m", "fxcheck"]
    trace_s, trace_mb = measured(*fx, "trace", str(script), "--steps", str(steps), "-q", "--save", str(trace))
    events = len(json.loads(trace.read_text())["events"])
    load_s, _ = median_of(rounds, sys.executable, "-c", f"import json; json.load(open({str(trace)!r}))")
    check_s, check_mb = median_of(rounds, *fx, "check", str(trace), "-q")
    show_s, _ = median_of(rounds, *fx, "show", str(trace))
    return {"steps": steps, "events": events, "trace_bytes": trace.stat().st_size, "trace_s": trace_s,
            "trace_peak_mb": trace_mb, "json_load_s": load_s, "check_s": check_s, "check_peak_mb": check_mb,
            "show_s": show_s, "check_ratio": check_s / load_s}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fxcheck-growth-") as tmp:
        results = [measure(n, args.rounds, Path(tmp)) for n in SIZES]
    print(f"{'events':>8} {'trace MB':>9} {'trace peak MB':>13} {'json.load s':>11} {'check s':>8} "
          f"{'check peak MB':>13} {'show s':>7} {'check/load':>10}")
    for r in results:
        print(f"{r['events']:8d} {r['trace_bytes'] / 1e6:9.2f} {r['trace_peak_mb']:13.0f} {r['json_load_s']:11.3f} "
              f"{r['check_s']:8.3f} {r['check_peak_mb']:13.0f} {r['show_s']:7.3f} {r['check_ratio']:10.2f}")
    last = results[-1]
    ok = last["check_ratio"] <= TARGET
    print(f"(medians of {args.rounds} fresh-process runs; every time includes starting python; target: check "
          f"within {TARGET:g}x json.load at the largest size: {'ok' if ok else 'OVER TARGET'})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
