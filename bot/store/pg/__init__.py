"""The PostgreSQL backend (DATABASE_URL): documents in one table, kept in memory, written in
order by a writer that waits out an absent database (see backend.py and docs/STORAGE.md)."""
