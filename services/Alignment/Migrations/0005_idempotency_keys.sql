-- Idempotency-Key values of POST /api/alignment-runs (see Persistence/IdempotencyKeys.cs). A key belongs to a caller's
-- workspace; it names the run its first request reserved and the fingerprint of that request, so a repeat with the same
-- body is answered with that run and a different body is refused. Rows older than the retention are pruned on insert.
CREATE TABLE idempotency_keys (
    workspace     text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    -- Reserved before the start is sent: the run may not exist yet, or never (a start that failed), so no foreign key.
    run_id        uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, key)
);

CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at);
