"""Bilingual lexical retrieval over the fact store: BM25, Snowball stems, shared concepts."""
