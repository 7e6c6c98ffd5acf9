using System.Data;
using Dapper;
using MetricAlignment.Metrics.Domain;
using Npgsql;

namespace MetricAlignment.Metrics.Data;

/// <summary>
/// The Metrics service's SQL. Reads open their own connection; writes run on the caller's transaction.
/// Every lookup is for a workspace and sees what that workspace may: the shared built-ins (workspace NULL) and its own
/// custom metrics. Another workspace's metric is simply not found, so callers cannot tell it from an unknown one.
/// A null workspace sees the built-ins only.
/// </summary>
public sealed class MetricStore(NpgsqlDataSource dataSource)
{
    const string MetricColumns = """
        m.id, m.key, m.name, m.description, m.kind, m.workspace, m.type, m.scope, m.scale_min, m.scale_max, m.labels,
        m.current_version, m.forked_from_metric_id, s.key AS forked_from_metric_key, m.forked_from_version,
        m.created_at, m.updated_at
        """;

    const string MetricSource = "metrics m LEFT JOIN metrics s ON s.id = m.forked_from_metric_id";

    const string VisibleToWorkspace = "(m.workspace IS NULL OR m.workspace = @workspace)";

    const string VersionColumns = """
        metric_id, version, system_prompt, user_prompt_template, created_by_kind, created_by_author,
        alignment_run_id, change_note, created_at
        """;

    public async Task<IReadOnlyList<Metric>> ListAsync(string workspace, MetricKind? kind, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<MetricRow>(new CommandDefinition($"""
            SELECT {MetricColumns}
            FROM {MetricSource}
            WHERE {VisibleToWorkspace} AND (@kind::text IS NULL OR m.kind = @kind)
            ORDER BY m.kind, m.key
            """, new { workspace, kind = kind?.ToName() }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToMetric()).ToList();
    }

    public async Task<Metric?> FindAsync(string? workspace, string idOrKey, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await FindAsync(connection, null, workspace, idOrKey, forUpdate: false, cancellationToken);
    }

    /// <summary>A key names at most one metric a workspace sees: a custom key never equals a built-in's (0002_workspaces.sql).</summary>
    public async Task<Metric?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string? workspace, string idOrKey,
        bool forUpdate, CancellationToken cancellationToken)
    {
        var byId = Guid.TryParse(idOrKey, out var id);
        var row = await connection.QuerySingleOrDefaultAsync<MetricRow>(new CommandDefinition($"""
            SELECT {MetricColumns}
            FROM {MetricSource}
            WHERE {(byId ? "m.id = @id" : "m.key = @key")} AND {VisibleToWorkspace}
            {(forUpdate ? "FOR UPDATE OF m" : "")}
            """, new { id, key = idOrKey.Trim().ToLowerInvariant(), workspace }, transaction, cancellationToken: cancellationToken));
        return row?.ToMetric();
    }

    public Task<Metric?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string? workspace, Guid id, bool forUpdate,
        CancellationToken cancellationToken) =>
        FindAsync(connection, transaction, workspace, id.ToString(), forUpdate, cancellationToken);

    public async Task<IReadOnlyList<MetricVersion>> ListVersionsAsync(Guid metricId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<VersionRow>(new CommandDefinition($"""
            SELECT {VersionColumns}
            FROM metric_versions
            WHERE metric_id = @metricId
            ORDER BY version DESC
            """, new { metricId }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToVersion()).ToList();
    }

    public async Task<MetricVersion?> FindVersionAsync(Guid metricId, int version, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await FindVersionAsync(connection, null, metricId, version, cancellationToken);
    }

    public async Task<MetricVersion?> FindVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid metricId, int version,
        CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<VersionRow>(new CommandDefinition($"""
            SELECT {VersionColumns}
            FROM metric_versions
            WHERE metric_id = @metricId AND version = @version
            """, new { metricId, version }, transaction, cancellationToken: cancellationToken));
        return row?.ToVersion();
    }

    /// <summary>
    /// Inserts the metric unless its id or key is taken (a key is taken by a built-in, or by a custom metric of the
    /// same workspace); false when it was. The caller inserts the version named by
    /// current_version in the same transaction (the foreign key is checked at commit).
    /// </summary>
    public async Task<bool> TryInsertMetricAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, NewMetricRow metric,
        CancellationToken cancellationToken)
    {
        var inserted = await connection.ExecuteScalarAsync<Guid?>(new CommandDefinition("""
            INSERT INTO metrics (id, key, name, description, kind, workspace, type, scope, scale_min, scale_max, labels,
                                 current_version, forked_from_metric_id, forked_from_version)
            VALUES (@Id, @Key, @Name, @Description, @Kind, @Workspace, @Type, @Scope, @ScaleMin, @ScaleMax, @Labels,
                    @CurrentVersion, @ForkedFromMetricId, @ForkedFromVersion)
            ON CONFLICT DO NOTHING
            RETURNING id
            """, metric, transaction, cancellationToken: cancellationToken));
        return inserted is not null;
    }

    public async Task<bool> TryInsertVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, NewVersionRow version,
        CancellationToken cancellationToken)
    {
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO metric_versions (metric_id, version, system_prompt, user_prompt_template, created_by_kind,
                                         created_by_author, alignment_run_id, change_note)
            VALUES (@MetricId, @Version, @SystemPrompt, @UserPromptTemplate, @CreatedByKind,
                    @CreatedByAuthor, @AlignmentRunId, @ChangeNote)
            ON CONFLICT DO NOTHING
            """, version, transaction, cancellationToken: cancellationToken));
        return inserted == 1;
    }

    public Task SetCurrentVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid metricId, int version,
        CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE metrics SET current_version = @version, updated_at = now()
            WHERE id = @metricId
            """, new { metricId, version }, transaction, cancellationToken: cancellationToken));

    public Task UpdateCatalogueTextAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid metricId, string name,
        string description, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE metrics SET name = @name, description = @description, updated_at = now()
            WHERE id = @metricId AND (name <> @name OR description <> @description)
            """, new { metricId, name, description }, transaction, cancellationToken: cancellationToken));

    /// <summary>
    /// Serialises the requests of one alignment run (a redelivery racing the original) for the rest of the
    /// transaction; unrelated runs that happen to share a hash only wait for each other.
    /// </summary>
    public Task LockRunAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid runId, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(hashtextextended(@runId::text, 0))", new { runId }, transaction, cancellationToken: cancellationToken));

    public Task LockCatalogueAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(@key)", new { key = CatalogueLockKey }, transaction, cancellationToken: cancellationToken));

    // Distinct from the schema migrator's lock, so seeding never waits on (or blocks) a migration of another replica.
    const long CatalogueLockKey = 7_246_351_909;

    public async Task<RunChange?> FindRunChangeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid runId, string change,
        CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<RunChange>(new CommandDefinition("""
            SELECT metric_id AS MetricId, version AS Version
            FROM alignment_run_changes
            WHERE run_id = @runId AND change = @change
            """, new { runId, change }, transaction, cancellationToken: cancellationToken));

    public Task RecordRunChangeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid runId, string change, Guid metricId,
        int version, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO alignment_run_changes (run_id, change, metric_id, version)
            VALUES (@runId, @change, @metricId, @version)
            """, new { runId, change, metricId, version }, transaction, cancellationToken: cancellationToken));

    sealed class MetricRow
    {
        public Guid Id { get; init; }
        public string Key { get; init; } = "";
        public string Name { get; init; } = "";
        public string Description { get; init; } = "";
        public string Kind { get; init; } = "";
        public string? Workspace { get; init; }
        public string Type { get; init; } = "";
        public string Scope { get; init; } = "";
        public double? ScaleMin { get; init; }
        public double? ScaleMax { get; init; }
        public string[]? Labels { get; init; }
        public int CurrentVersion { get; init; }
        public Guid? ForkedFromMetricId { get; init; }
        public string? ForkedFromMetricKey { get; init; }
        public int? ForkedFromVersion { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public Metric ToMetric() => new(
            Id, Key, Name, Description,
            MetricNames.ParseKind(Kind), Workspace, MetricNames.ParseType(Type), MetricNames.ParseScope(Scope),
            ScaleMin, ScaleMax, Labels,
            CurrentVersion,
            ForkedFromMetricId is { } sourceId ? new ForkOrigin(sourceId, ForkedFromMetricKey ?? "", ForkedFromVersion ?? 0) : null,
            Utc(CreatedAt), Utc(UpdatedAt));
    }

    sealed class VersionRow
    {
        public Guid MetricId { get; init; }
        public int Version { get; init; }
        public string SystemPrompt { get; init; } = "";
        public string UserPromptTemplate { get; init; } = "";
        public string CreatedByKind { get; init; } = "";
        public string CreatedByAuthor { get; init; } = "";
        public Guid? AlignmentRunId { get; init; }
        public string ChangeNote { get; init; } = "";
        public DateTime CreatedAt { get; init; }

        public MetricVersion ToVersion() => new(
            MetricId, Version, SystemPrompt, UserPromptTemplate,
            new VersionAuthor(MetricNames.ParseAuthorKind(CreatedByKind), CreatedByAuthor, AlignmentRunId),
            ChangeNote, Utc(CreatedAt));
    }

    static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

public sealed record RunChange(Guid MetricId, int Version);

public sealed record NewMetricRow(
    Guid Id,
    string Key,
    string Name,
    string Description,
    string Kind,
    string? Workspace,
    string Type,
    string Scope,
    double? ScaleMin,
    double? ScaleMax,
    string[]? Labels,
    int CurrentVersion,
    Guid? ForkedFromMetricId,
    int? ForkedFromVersion);

public sealed record NewVersionRow(
    Guid MetricId,
    int Version,
    string SystemPrompt,
    string UserPromptTemplate,
    string CreatedByKind,
    string CreatedByAuthor,
    Guid? AlignmentRunId,
    string ChangeNote);
