"""Cost of the model-graph capture: a 12-layer d=256 transformer's first forward, eager vs captured.

Each measurement runs in a fresh process (a first forward pays one-time costs in both cases) and the
two kinds alternate. Both import TorchDynamo before timing, as `fxcheck trace` does before the script
starts. Reported: median seconds of the first eager forward, of the first forward run through
fxcheck's capture (Dynamo traces it, the backend reads the graph, the graph runs), and the capture
cost: the time the captured forward adds over the eager one, as a multiple of the eager forward
(target <= 2).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0

CHILD = r"""
import json, sys, time
import torch, torch._dynamo
from torch import nn
captured = sys.argv[1] == "captured"
batch, seq = int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 256)
        layer = nn.TransformerEncoderLayer(256, nhead=8, dim_feedforward=1024, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=12, enable_nested_tensor=False)
        self.head = nn.Linear(256, 1000)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)))

model = Encoder().train()
tokens = torch.randint(0, 1000, (batch, seq))
facts = {}
if captured:
    from fxcheck.capture.dynamo import GraphCapture
    from fxcheck.capture.recorder import Limits, Recorder
    rec = Recorder(Limits(), lambda filename: False)
    capture = GraphCapture(rec, trained=lambda m: True, evaluating=lambda: False)
    capture.watch("model#1", model)
start = time.perf_counter()
out = model(tokens)
seconds = time.perf_counter() - start
if captured:
    capture.uninstall()
    graph = [e for e in rec.events if e.kind == "model.graph"][0].data
    facts = {"graphs": graph["graphs"], "layers": graph["layers"], "note": graph["note"]}
print(json.dumps({"seconds": seconds, "facts": facts}))
"""


def measure(kind: str, batch: int, seq: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(batch), str(seq)], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    args = parser.parse_args()
    eager, captured, facts = [], [], {}
    for _ in range(args.rounds):
        eager.append(measure("eager", args.batch, args.seq)["seconds"])
        result = measure("captured", args.batch, args.seq)
        captured.append(result["seconds"])
        facts = result["facts"]
    e, c = statistics.median(eager), statistics.median(captured)
    print(f"12-layer d=256 transformer, batch {args.batch} x {args.seq} tokens, training mode, {args.rounds} rounds")
    print(f"  first eager forward:    median {e:.3f} s  ({', '.join(f'{x:.3f}' for x in eager)})")
    print(f"  first captured forward: median {c:.3f} s  ({', '.join(f'{x:.3f}' for x in captured)})")
    print(f"  captured / eager {c / e:.2f}; capture cost (captured - eager) {c - e:.3f} s = {(c - e) / e:.2f} x the eager "
          f"forward (target <= {TARGET})  graphs {facts.get('graphs')}  note {facts.get('note')}")
    print(f"  layers seen: {facts.get('layers')}")


if __name__ == "__main__":
    main()
