"""``python -m gankit`` (and ``torchrun -m gankit``) runs the command line."""

from gankit.cli.main import entry

entry()
