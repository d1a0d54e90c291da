"""Briefings, answers and digests as renderer-neutral blocks, and their plain-text rendering."""
