-- Every store's documents: one row per (namespace, table, key), as JournaledTables keys them.
-- A namespace is what a data directory holds as one file: users, ledger, newsroom, facts,
-- chats, broadcast-<id>.
CREATE TABLE documents (
    namespace text NOT NULL,
    tbl text NOT NULL,
    key text NOT NULL,
    doc jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, tbl, key)
);
