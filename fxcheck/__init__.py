"""fxcheck: verify a PyTorch training loop by running it."""

__version__ = "0.1.0"
