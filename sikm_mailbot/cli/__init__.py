"""The ``sikm`` command line: one module per command group."""

from sikm_mailbot.cli.main import app

__all__ = ["app"]
