-- Transactional outbox and inbox (MetricAlignment.ServiceDefaults.OutboxSchema.MigrationSql, copied verbatim).

-- Messages written in the same transaction as the state change they announce, published afterwards by the
-- OutboxDispatcher. id is the MassTransit MessageId consumers deduplicate on; sequence orders the publishes.
CREATE TABLE outbox_messages (
    sequence         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id               uuid PRIMARY KEY,
    message_type     text NOT NULL,
    body             jsonb NOT NULL,
    headers          jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text
);

-- The dispatcher only ever scans what is still to publish; dispatched rows wait for the retention clean-up.
CREATE INDEX outbox_messages_pending ON outbox_messages (sequence) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_messages_dispatched_at ON outbox_messages (dispatched_at) WHERE dispatched_at IS NOT NULL;

-- Messages a consumer has already handled, recorded in the transaction of its effects, so a redelivery is a no-op.
CREATE TABLE inbox_messages (
    consumer      text NOT NULL,
    message_id    uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE INDEX inbox_messages_processed_at ON inbox_messages (processed_at);