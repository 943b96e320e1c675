"""`python -m fxcheck` entry point."""

from fxcheck.cli import main

main()
