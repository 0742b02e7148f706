"""sikm-mailbot: an email desk for SIKM (Jakarta entry/exit permit) applications."""

__version__ = "0.1.0"
