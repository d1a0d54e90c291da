-- Several replicas: the digest delivery queue, and the send rate they share.
--
-- digest_queue is the ledger of digests on PostgreSQL: one row per (chat, local date), so the
-- minute sweep of any replica can enqueue idempotently. A replica claims rows with
-- SELECT ... FOR UPDATE SKIP LOCKED and holds them for a lease; a row still 'claimed' after
-- its lease ran out belonged to a replica that died, and is claimed again (resumed after its
-- last recorded part).
CREATE TABLE digest_queue (
    chat bigint NOT NULL,
    local_date date NOT NULL,
    -- queued | claimed | sent | skipped | blocked | failed
    status text NOT NULL,
    parts integer NOT NULL DEFAULT 0,
    sub jsonb,  -- the subscription as the sweep saw it (lang, zone, topics, last_sent_at ...)
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at timestamptz,
    lease_until timestamptz,
    claimed_by text,
    done_at timestamptz,
    at timestamptz,  -- the application's clock at the outcome, as the embedded ledger has it
    PRIMARY KEY (chat, local_date)
);
CREATE INDEX digest_queue_claimable ON digest_queue (lease_until NULLS FIRST, enqueued_at)
    WHERE status IN ('queued', 'claimed');
CREATE INDEX digest_queue_sent ON digest_queue (chat, at) WHERE status = 'sent';
CREATE INDEX digest_queue_day ON digest_queue (local_date);

-- What the embedded ledger had recorded on this database (the 'ledger' namespace of
-- documents) carries over: a digest sent today before the upgrade is not sent again, and one
-- left 'sending' by a crash is resumed after its recorded parts.
INSERT INTO digest_queue (chat, local_date, status, parts, enqueued_at, lease_until, done_at, at)
SELECT (doc->>'chat')::bigint,
       (doc->>'date')::date,
       CASE WHEN doc->>'status' = 'sending' THEN 'claimed' ELSE doc->>'status' END,
       coalesce((doc->>'parts')::integer, 0),
       coalesce((doc->>'at')::timestamptz, now()),
       CASE WHEN doc->>'status' = 'sending' THEN '-infinity'::timestamptz END,
       CASE WHEN doc->>'status' = 'sending' THEN NULL ELSE (doc->>'at')::timestamptz END,
       (doc->>'at')::timestamptz
FROM documents
WHERE namespace = 'ledger' AND tbl = 'deliveries'
ON CONFLICT DO NOTHING;

-- One row: the theoretical time of the next send every replica may make (GCRA), and until
-- when Telegram asked every replica to wait (a 429's retry_after).
CREATE TABLE send_rate (
    id integer PRIMARY KEY CHECK (id = 1),
    next_at timestamptz NOT NULL,
    paused_until timestamptz NOT NULL
);
INSERT INTO send_rate VALUES (1, '-infinity', '-infinity');
