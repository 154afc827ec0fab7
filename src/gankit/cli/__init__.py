"""The ``gankit`` command line: one module per sub-command, each using the public API."""
