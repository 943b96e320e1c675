"""Distil a frozen random-features teacher into a small MLP student on synthetic 16-feature data.

The teacher (fixed random ReLU features + a ridge-regression readout solved in closed form) is
frozen with requires_grad_(False), kept in eval mode and only run under torch.no_grad(); the
student is trained for two epochs by train_student(), which builds and owns its optimizer.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(n_samples, n_features=16, n_classes=5):
    w = torch.randn(n_features, n_classes)
    x = torch.randn(n_samples, n_features)
    y = (torch.sin(x) @ w + 0.3 * torch.randn(n_samples, n_classes)).argmax(dim=1)
    return x, y


class RandomFeaturesTeacher(nn.Module):
    def __init__(self, in_features=16, n_random=512, n_classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(in_features, n_random), nn.ReLU())
        self.readout = nn.Linear(n_random, n_classes)

    @torch.no_grad()
    def fit(self, x, y, ridge=1.0):
        phi = self.features(x)
        phi = torch.cat([phi, torch.ones(phi.size(0), 1, device=phi.device)], dim=1)
        targets = F.one_hot(y, self.readout.out_features).float()
        gram = phi.T @ phi + ridge * torch.eye(phi.size(1), device=phi.device)
        solution = torch.linalg.solve(gram, phi.T @ targets)
        self.readout.weight.copy_(solution[:-1].T)
        self.readout.bias.copy_(solution[-1])

    def forward(self, x):
        return self.readout(self.features(x))


def evaluate(model, loader, device):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            correct += (model(inputs).argmax(1) == targets).sum().item()
            total += inputs.size(0)
    return correct / total


def train_student(student, teacher, train_loader, val_loader, epochs, lr, device,
                  temperature=2.0, alpha=0.7):
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    teacher.eval()
    for epoch in range(epochs):
        student.train()
        train_loss, n_train = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            optimizer.zero_grad()
            student_logits = student(inputs)
            distill = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                               F.softmax(teacher_logits / temperature, dim=1),
                               reduction="batchmean") * temperature ** 2
            loss = alpha * distill + (1 - alpha) * F.cross_entropy(student_logits, targets)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * inputs.size(0)
            n_train += inputs.size(0)

        val_acc = evaluate(student, val_loader, device)
        print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss / n_train:.4f}  "
              f"student_val_acc {val_acc:.3f}")


def main():
    parser = argparse.ArgumentParser(description="Knowledge distillation from a frozen teacher")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    x, y = make_dataset(640)
    x_train, y_train = x[:544].to(device), y[:544].to(device)
    train_loader = DataLoader(TensorDataset(x[:544], y[:544]), batch_size=args.batch_size,
                              shuffle=True, num_workers=0)
    val_loader = DataLoader(TensorDataset(x[544:], y[544:]), batch_size=48,
                            shuffle=False, num_workers=0)

    teacher = RandomFeaturesTeacher().to(device)
    teacher.fit(x_train, y_train)
    teacher.requires_grad_(False)
    print(f"teacher val_acc {evaluate(teacher, val_loader, device):.3f}")

    student = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5)).to(device)
    train_student(student, teacher, train_loader, val_loader, args.epochs, args.lr, device)


if __name__ == "__main__":
    main()
