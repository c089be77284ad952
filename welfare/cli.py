"""The ``welfare`` command. Thin: each subcommand parses arguments and calls one public function.

Subcommands live in ``welfare/commands/<name>.py``; each module defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. They are discovered, never listed by hand.
Exit codes: 0 success, 1 failure (e.g. strict loading found a bad record), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import welfare
from welfare import commands as _commands_pkg

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _command_modules() -> list:  # type: ignore[type-arg]
    mods = []
    for info in sorted(pkgutil.iter_modules(_commands_pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{_commands_pkg.__name__}.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="welfare",
        description="Distress-signal and reluctance metrics for chat logs, and intervention analysis.",
    )
    parser.add_argument("--version", action="version", version=f"welfare {welfare.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._run(args) or 0)
    except (welfare.LogFormatError, FileNotFoundError) as err:
        print(f"welfare {args.command}: error: {err}", file=sys.stderr)
        if isinstance(err, welfare.LogFormatError) and hasattr(args, "lenient") and not args.lenient:
            print(f"(strict loading stops at the first bad record; `welfare {args.command} ... --lenient` skips bad "
                  f"records, lists each with file, line and reason, and keeps read = loaded + rejected)",
                  file=sys.stderr)
        return EXIT_FAIL
    except BrokenPipeError:  # e.g. `welfare metrics | head`
        return EXIT_OK
    except (IsADirectoryError, NotADirectoryError, PermissionError) as err:  # an output or input path unusable
        print(f"welfare {args.command}: error: {err}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
