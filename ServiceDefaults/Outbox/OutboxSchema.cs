namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// The tables the transactional outbox and the inbox need, in the using service's own database. A service copies
/// <see cref="MigrationSql"/> verbatim into its Migrations folder as its next numbered script (for example
/// <c>Migrations/0003_outbox.sql</c>): the SchemaMigrator then applies and checksums it like any of the service's scripts,
/// in the same schema (the database's default search_path) as the rest of its tables.
/// </summary>
/// <remarks>
/// This text is frozen: services have applied copies of it. A later change to these tables is a new script that each
/// service adds after its copy, never an edit here.
/// </remarks>
public static class OutboxSchema
{
    public const string OutboxTable = "outbox_messages";
    public const string InboxTable = "inbox_messages";

    /// <summary>The LISTEN/NOTIFY channel an enqueue notifies on commit; channels are per database, so per service.</summary>
    public const string NotificationChannel = "outbox_messages";

    public const string MigrationSql = """
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
        """;
}
