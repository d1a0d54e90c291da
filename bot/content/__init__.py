"""Reading content/: the library (facts, sources, briefings), the lexicon and the seed map."""
