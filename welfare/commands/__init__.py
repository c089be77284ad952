"""Subcommands of the ``welfare`` CLI, one module each (discovered by :mod:`welfare.cli`)."""
