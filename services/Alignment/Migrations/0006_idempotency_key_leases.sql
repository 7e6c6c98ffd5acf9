-- Idempotency-Key values are held with a lease on their row instead of a session advisory lock (see
-- Persistence/IdempotencyKeys.cs): a keyed start claims the row in a short statement and holds no database connection
-- while it validates the request and waits for the saga, so concurrent keyed starts no longer need a pooled connection
-- each. A process that dies leaves a lease that runs out, so a key is never stuck in progress.
ALTER TABLE idempotency_keys
    -- NULL while the claiming request is being validated: the key is bound to no request yet, and a refused request
    -- deletes the row, so the corrected request may use the key.
    ALTER COLUMN request_hash DROP NOT NULL,
    -- The request processing the key and until when; both NULL when none is. Only the holder of lease_id may bind the
    -- key or release it, so a request whose lease ran out cannot undo the one that took the key over.
    ADD COLUMN lease_id uuid,
    ADD COLUMN lease_until timestamptz,
    -- Set once the saga acknowledged the start of run_id: the run exists, and a repeat is answered with it without
    -- taking the lease. Rows stored before this migration have none; their next repeat finds the run and sets it.
    ADD COLUMN started_at timestamptz;
