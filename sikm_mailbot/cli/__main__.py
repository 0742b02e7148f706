"""``python -m sikm_mailbot.cli``."""

from sikm_mailbot.cli.main import app

app()
