"""The CLI shell: discovery of subcommands, exit codes, and a start-up that stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from welfare.cli import build_parser, main


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    names = sorted(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {"info", "convert", "score", "metrics", "analyze", "simulate", "report", "demo", "view",
            "validate"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as info:
            parser.parse_args([name, "--help"])
        assert info.value.code == 0
        assert "usage: welfare " + name in capsys.readouterr().out


def test_usage_errors_exit_2():
    assert main(["no-such-command"]) == 2
    assert main([]) == 2


def test_report_default_notebook_matches_the_report_package():
    from welfare.commands import report as command
    from welfare.report import DEFAULT_NOTEBOOK

    assert command.DEFAULT_NOTEBOOK == DEFAULT_NOTEBOOK


def test_help_does_not_import_the_heavy_packages():
    # `welfare --help` must stay quick: statistics and notebook machinery load only when a command runs.
    code = ("import sys; from welfare.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('statsmodels', 'nbclient', 'matplotlib.pyplot') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
