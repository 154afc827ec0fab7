"""User-facing errors: the CLI prints them as one line and exits with status 2."""

from __future__ import annotations


class GankitError(Exception):
    """An error caused by the user's input (config, files, names), not by a bug."""

    status: int = 2  # the CLI's exit status


class ConfigError(GankitError):
    """Unknown key, wrong type or invalid value in a configuration."""


class DataError(GankitError):
    """A data file or folder is missing, empty or in the wrong format."""


class CheckpointError(GankitError):
    """A run directory or checkpoint is missing or cannot be read."""


class StorageError(GankitError):
    """A file could not be written (no space left, quota exceeded): the machine's state, not
    the user's input, so the CLI exits with status 1 as for any failed run."""

    status = 1
