-- Replicas see each other's writes: every committed change of a document is numbered here, and
-- the commit NOTIFYs the highest number (NOTIFY's payload is capped at 8000 bytes, so it never
-- carries documents). A listener fetches the rows numbered above the last one it saw, joined
-- to documents for their current content; a key absent from documents was deleted.
--
-- Writers take an advisory lock before numbering (bot/store/pg/backend.py), so numbers are
-- handed out in commit order: once a listener has seen number N, nothing numbered below N can
-- still commit.
CREATE SEQUENCE change_seq;

CREATE TABLE changes (
    seq bigint PRIMARY KEY,
    namespace text NOT NULL,
    tbl text NOT NULL,
    key text NOT NULL,
    origin text NOT NULL,  -- the writing process, so that it can skip its own changes
    at timestamptz NOT NULL DEFAULT now()
);

-- Old changes are pruned; a listener that last saw a number below ``upto`` missed some and
-- reloads what it holds instead.
CREATE TABLE changes_pruned (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    upto bigint NOT NULL
);
INSERT INTO changes_pruned (upto) VALUES (0);
