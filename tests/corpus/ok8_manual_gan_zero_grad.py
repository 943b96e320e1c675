"""Tiny GAN on a 2-D ring distribution with Lightning manual optimization (two optimizers).

Each optimizer's gradients are cleared before its backward, the fake samples are detached
for the discriminator update, and toggle_optimizer/untoggle_optimizer restrict each update
to its own network. Correct as written.
"""
import math
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L

LATENT = 4


def ring(n, seed):
    g = torch.Generator().manual_seed(seed)
    theta = torch.rand(n, generator=g) * 2 * math.pi
    r = 2.0 + 0.1 * torch.randn(n, generator=g)
    return TensorDataset(torch.stack([r * torch.cos(theta), r * torch.sin(theta)], 1))


class RingGAN(L.LightningModule):
    def __init__(self, lr_g=2e-3, lr_d=2e-3):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = nn.Sequential(nn.Linear(LATENT, 32), nn.LeakyReLU(0.2), nn.Linear(32, 2))
        self.discriminator = nn.Sequential(
            nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(32, 1)
        )

    def forward(self, z):
        return self.generator(z)

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        z = torch.randn(real.size(0), LATENT, device=real.device)
        bce = nn.functional.binary_cross_entropy_with_logits

        # discriminator
        self.toggle_optimizer(opt_d)
        fake = self(z).detach()
        d_real = self.discriminator(real)
        d_fake = self.discriminator(fake)
        loss_d = 0.5 * (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake)))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        # generator
        self.toggle_optimizer(opt_g)
        d_gen = self.discriminator(self(z))
        loss_g = bce(d_gen, torch.ones_like(d_gen))
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.log_dict({"loss_d": loss_d, "loss_g": loss_g})

    def validation_step(self, batch, batch_idx):
        (real,) = batch
        z = torch.randn(real.size(0), LATENT, device=real.device)
        radius = self(z).norm(dim=1)
        self.log("val_radius_err", (radius - 2.0).abs().mean())

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.hparams.lr_g, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.lr_d, betas=(0.5, 0.999))
        return [opt_g, opt_d]


def main():
    L.seed_everything(17)
    train_loader = DataLoader(ring(1024, 1), batch_size=64, shuffle=True)
    val_loader = DataLoader(ring(128, 2), batch_size=64)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(RingGAN(), train_loader, val_loader)
    print("val_radius_err", float(trainer.callback_metrics["val_radius_err"]))


if __name__ == "__main__":
    main()
