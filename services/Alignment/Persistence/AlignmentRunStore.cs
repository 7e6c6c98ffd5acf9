using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using Npgsql;

namespace MetricAlignment.Alignment.Persistence;

/// <summary>The SQL of the alignment_runs table: the saga repository's writes and the API's and worker's reads.</summary>
public static class AlignmentRunStore
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize(AlignmentRunState run) => JsonSerializer.Serialize(run, Json);

    static AlignmentRunState Deserialize(string document, int version)
    {
        var run = JsonSerializer.Deserialize<AlignmentRunState>(document, Json)
            ?? throw new InvalidOperationException("An alignment run document was empty.");
        run.Version = version;
        return run;
    }

    sealed record Row(string Document, int Version);

    static object Parameters(AlignmentRunState run)
    {
        var now = DateTimeOffset.UtcNow;
        return new
        {
            run.CorrelationId,
            run.Workspace,
            run.CurrentState,
            run.Version,
            run.MetricId,
            run.MetricKey,
            run.Attempt,
            Phase = run.Phase?.ToString(),
            CreatedAt = (run.CreatedAt == default ? now : run.CreatedAt).ToUniversalTime(),
            UpdatedAt = (run.UpdatedAt == default ? now : run.UpdatedAt).ToUniversalTime(),
            LastProgressAt = (run.LastProgressAt == default ? now : run.LastProgressAt).ToUniversalTime(),
            Document = Serialize(run),
        };
    }

    /// <summary>
    /// Inserts the run unless a row with its id exists. ON CONFLICT instead of catching 23505: a failed insert would
    /// abort the transaction, and this form waits for a competing inserter so that the following load sees its row.
    /// </summary>
    public static async Task<bool> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AlignmentRunState run, CancellationToken cancellationToken)
    {
        run.Version = 1;
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO alignment_runs (correlation_id, workspace, current_state, version, metric_id, metric_key, attempt, phase,
                                        created_at, updated_at, last_progress_at, document)
            VALUES (@CorrelationId, @Workspace, @CurrentState, @Version, @MetricId, @MetricKey, @Attempt, @Phase,
                    @CreatedAt, @UpdatedAt, @LastProgressAt, @Document::jsonb)
            ON CONFLICT (correlation_id) DO NOTHING
            """, Parameters(run), transaction, cancellationToken: cancellationToken));
        return inserted == 1;
    }

    public static async Task<AlignmentRunState?> LoadForUpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition("""
            SELECT document::text AS document, version FROM alignment_runs WHERE correlation_id = @id FOR UPDATE
            """, new { id }, transaction, cancellationToken: cancellationToken));
        return row is null ? null : Deserialize(row.Document, row.Version);
    }

    public static async Task UpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, AlignmentRunState run, CancellationToken cancellationToken)
    {
        var expected = run.Version;
        run.Version = expected + 1;
        var updated = await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE alignment_runs
            SET workspace = @Workspace, current_state = @CurrentState, version = @Version, metric_id = @MetricId, metric_key = @MetricKey,
                attempt = @Attempt, phase = @Phase, created_at = @CreatedAt, updated_at = @UpdatedAt,
                last_progress_at = @LastProgressAt, document = @Document::jsonb
            WHERE correlation_id = @CorrelationId AND version = @Expected
            """, new DynamicParameters(Parameters(run)).WithExpected(expected), transaction, cancellationToken: cancellationToken));
        if (updated != 1)
            throw new MassTransit.ConcurrencyException($"Alignment run {run.CorrelationId} changed since it was loaded (version {expected}).",
                typeof(AlignmentRunState), run.CorrelationId);
    }

    static DynamicParameters WithExpected(this DynamicParameters parameters, int expected)
    {
        parameters.Add("Expected", expected);
        return parameters;
    }

    public static Task DeleteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("DELETE FROM alignment_runs WHERE correlation_id = @id", new { id }, transaction,
            cancellationToken: cancellationToken));

    /// <summary>The run, or null when it does not exist or belongs to another workspace (callers cannot tell which).</summary>
    public static async Task<AlignmentRunState?> GetAsync(NpgsqlDataSource dataSource, string workspace, Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            "SELECT document::text AS document, version FROM alignment_runs WHERE correlation_id = @id AND workspace = @workspace",
            new { id, workspace }, cancellationToken: cancellationToken));
        return row is null ? null : Deserialize(row.Document, row.Version);
    }

    /// <summary>
    /// Keys of the run document that only the single-run view needs; the history leaves them in the database, so a page
    /// of runs costs neither their transfer nor their (de)serialisation.
    /// </summary>
    const string DetailKeys = "{attempts,phases,statistics,guidelinesText,guidelines,refinedSystemPrompt,refinedUserPromptTemplate,warnings,tokenUsage,verification,traceParent}";

    sealed record SummaryRow(string Document, int Version, int GuidelineCount);

    /// <summary>
    /// A page of a metric's runs in a workspace, newest first, without their detail (see <see cref="DetailKeys"/>): the guideline count
    /// comes back beside each run. <paramref name="before"/> is the last run of the previous page; the keyset is
    /// (created_at, correlation_id) so pages neither skip nor repeat runs created in the same instant.
    /// Null when <paramref name="before"/> names no run of this metric in the workspace.
    /// </summary>
    public static async Task<IReadOnlyList<(AlignmentRunState Run, int GuidelineCount)>?> ListSummariesByMetricAsync(NpgsqlDataSource dataSource,
        string workspace, Guid metricId, int limit, Guid? before, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        DateTime? beforeCreatedAt = null;
        if (before is { } cursor)
        {
            beforeCreatedAt = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
                "SELECT created_at FROM alignment_runs WHERE correlation_id = @cursor AND metric_id = @metricId AND workspace = @workspace",
                new { cursor, metricId, workspace },
                cancellationToken: cancellationToken));
            if (beforeCreatedAt is null) return null;
        }
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition($"""
            SELECT (document - '{DetailKeys}'::text[])::text AS document, version,
                   COALESCE(jsonb_array_length(document -> 'guidelines'), 0) AS GuidelineCount
            FROM alignment_runs
            WHERE workspace = @workspace AND metric_id = @metricId
              AND (@beforeCreatedAt::timestamptz IS NULL OR (created_at, correlation_id) < (@beforeCreatedAt::timestamptz, @before))
            ORDER BY created_at DESC, correlation_id DESC
            LIMIT @limit
            """, new { workspace, metricId, limit, beforeCreatedAt, before = before ?? Guid.Empty }, cancellationToken: cancellationToken));
        return rows.Select(r => (Deserialize(r.Document, r.Version), r.GuidelineCount)).ToList();
    }

    /// <summary>What <see cref="GetIfChangedAsync"/> found: the run's version, and its document unless the caller already had that version.</summary>
    public readonly record struct VersionedRun(int Version, AlignmentRunState? Run);

    /// <summary>
    /// One primary-key read that answers the API's cache check: null when the run does not exist in the workspace;
    /// else its current version, with the run itself only when that version differs from <paramref name="knownVersion"/>
    /// (so an unchanged run costs a version read, not a document transfer and deserialisation).
    /// </summary>
    public static async Task<VersionedRun?> GetIfChangedAsync(NpgsqlDataSource dataSource, string workspace, Guid id, int knownVersion,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT version, CASE WHEN version = $3 THEN NULL ELSE document::text END
            FROM alignment_runs WHERE correlation_id = $1 AND workspace = $2
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = workspace });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = knownVersion });
        // Prepared once per pooled physical connection (Npgsql reuses it when the same SQL is prepared again).
        await command.PrepareAsync(cancellationToken);
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var version = reader.GetInt32(0);
        return new VersionedRun(version, reader.IsDBNull(1) ? null : Deserialize(reader.GetString(1), version));
    }

    /// <summary>One run of a history page: its id and version, and its summary unless the caller said it had that version.</summary>
    public readonly record struct SummaryEntry(Guid Id, int Version, AlignmentRunState? Run, int GuidelineCount);

    /// <summary>
    /// A page of a metric's runs like <see cref="ListSummariesByMetricAsync"/>, in one query, except that runs whose
    /// (id, version) is in <paramref name="known"/> come back without their summary: the caller holds it already.
    /// Null when <paramref name="before"/> names no run of this metric in the workspace.
    /// </summary>
    public static async Task<IReadOnlyList<SummaryEntry>?> ListSummariesIfChangedAsync(NpgsqlDataSource dataSource, string workspace, Guid metricId,
        int limit, Guid? before, IReadOnlyCollection<(Guid Id, int Version)> known, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        DateTime? beforeCreatedAt = null;
        if (before is { } cursor)
        {
            beforeCreatedAt = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
                "SELECT created_at FROM alignment_runs WHERE correlation_id = @cursor AND metric_id = @metricId AND workspace = @workspace",
                new { cursor, metricId, workspace }, cancellationToken: cancellationToken));
            if (beforeCreatedAt is null) return null;
        }
        await using var command = new NpgsqlCommand($"""
            SELECT r.correlation_id, r.version,
                   CASE WHEN k.id IS NULL THEN (r.document - '{DetailKeys}'::text[])::text END,
                   CASE WHEN k.id IS NULL THEN COALESCE(jsonb_array_length(r.document -> 'guidelines'), 0) END
            FROM alignment_runs r
            LEFT JOIN unnest($6::uuid[], $7::integer[]) AS k(id, version) ON k.id = r.correlation_id AND k.version = r.version
            WHERE r.workspace = $1 AND r.metric_id = $2
              AND ($4::timestamptz IS NULL OR (r.created_at, r.correlation_id) < ($4::timestamptz, $5))
            ORDER BY r.created_at DESC, r.correlation_id DESC
            LIMIT $3
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = workspace });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = metricId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)beforeCreatedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = before ?? Guid.Empty });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = known.Select(k => k.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = known.Select(k => k.Version).ToArray() });
        await command.PrepareAsync(cancellationToken);
        var entries = new List<SummaryEntry>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var version = reader.GetInt32(1);
            entries.Add(reader.IsDBNull(2)
                ? new SummaryEntry(reader.GetGuid(0), version, null, 0)
                : new SummaryEntry(reader.GetGuid(0), version, Deserialize(reader.GetString(2), version), reader.GetInt32(3)));
        }
        return entries;
    }

    public sealed record RunStatus(string CurrentState, int Attempt);

    /// <summary>What the worker checks between phases: is this attempt still the one the saga wants run?</summary>
    public static async Task<RunStatus?> GetStatusAsync(NpgsqlDataSource dataSource, Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<RunStatus>(new CommandDefinition(
            "SELECT current_state AS CurrentState, attempt AS Attempt FROM alignment_runs WHERE correlation_id = @id", new { id }, cancellationToken: cancellationToken));
    }

    public sealed record StalledRun(Guid CorrelationId, string CurrentState, int Attempt, string? Phase, DateTime LastProgressAt);

    public static async Task<IReadOnlyList<StalledRun>> FindStalledAsync(NpgsqlDataSource dataSource, DateTimeOffset silentSince, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<StalledRun>(new CommandDefinition("""
            SELECT correlation_id AS CorrelationId, current_state AS CurrentState, attempt AS Attempt, phase AS Phase,
                   last_progress_at AS LastProgressAt
            FROM alignment_runs
            WHERE current_state IN ('Pending', 'Running') AND last_progress_at < @silentSince
            ORDER BY last_progress_at LIMIT 100
            """, new { silentSince = silentSince.ToUniversalTime() }, cancellationToken: cancellationToken));
        return rows.ToList();
    }
}
