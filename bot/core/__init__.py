"""Domain values and pure arithmetic: facts, replies, clock, schedules, text.

Imports nothing of ours (pyproject.toml, [tool.importlinter]).
"""
