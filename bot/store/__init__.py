"""Durable state on TinyDB: one process owns the data directory, every write is atomic."""
