"""MLP classifier compiled by the script itself with `torch.compile` (its own backend, `aot_eager`
by default so it needs no C++ compiler), BatchNorm + dropout, correct train/eval switching. Prints how
many graphs its backend compiled."""
import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

compiled_graphs = []


def counting_backend(gm, example_inputs):
    """A debugging backend: counts the graphs, then compiles them with aot_eager."""
    compiled_graphs.append(len(gm.graph.nodes))
    return torch._dynamo.lookup_backend("aot_eager")(gm, example_inputs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--backend", default="counting", help="'counting' (default) or any torch.compile backend")
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(640, 20)
    y = (x[:, 0] * x[:, 1] > 0).long()
    train = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[512:], y[512:]), batch_size=64)
    net = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 2))
    model = torch.compile(net, backend=counting_backend if args.backend == "counting" else args.backend)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            loss = nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in val:
                correct += (model(xb).argmax(1) == yb).sum().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}  val acc {correct / len(val.dataset):.3f}")
    print(f"compiled graphs: {len(compiled_graphs)}")


if __name__ == "__main__":
    main()
