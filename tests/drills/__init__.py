"""Fault drills: crash, server faults, hostile input, forgery, privacy (``pytest -m drill``)."""
