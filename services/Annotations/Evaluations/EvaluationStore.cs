using System.Text.Json;
using Dapper;
using MetricAlignment.Annotations.Import;
using MetricAlignment.Annotations.Resolution;
using MetricAlignment.Contracts;
using Npgsql;

namespace MetricAlignment.Annotations.Evaluations;

public sealed class EvaluationStore(NpgsqlDataSource dataSource)
{
    sealed record EvaluationRecord(Guid Id, string Name, string Status, DateTime CreatedAt, DateTime? CompletedAt, long RowCount);

    sealed record MetricRecord(Guid EvaluationId, Guid MetricId, string MetricKey, string MetricType, string ResolutionRule);

    const string SelectEvaluations = """
        SELECT e.id, e.name, e.status, e.created_at, e.completed_at,
               (SELECT count(*) FROM rows r WHERE r.evaluation_id = e.id) AS row_count
        FROM evaluations e
        """;

    public async Task<EvaluationView> CreateAsync(string workspace, string name, IReadOnlyList<DeclaredMetric> metrics, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO evaluations (id, workspace, name, status) VALUES (@id, @workspace, @name, 'running')", new { id, workspace, name }, transaction, cancellationToken: ct));
        await DeclareMetricsAsync(connection, transaction, id, metrics, ct);
        await transaction.CommitAsync(ct);
        return (await GetAsync(workspace, id, ct))!;
    }

    internal static Task DeclareMetricsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid evaluationId,
        IEnumerable<DeclaredMetric> metrics, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO evaluation_metrics (evaluation_id, metric_id, metric_key, metric_type, resolution_rule)
            VALUES (@EvaluationId, @MetricId, @MetricKey, @MetricType, @ResolutionRule)
            ON CONFLICT (evaluation_id, metric_id) DO NOTHING
            """, metrics.Select(m => new
        {
            EvaluationId = evaluationId,
            MetricId = m.Definition.Id,
            MetricKey = m.Definition.Key,
            MetricType = DeclaredMetric.TypeName(m.Definition.Type),
            ResolutionRule = ResolutionMethods.Of(m.Rule),
        }), transaction, cancellationToken: ct));

    /// <summary>
    /// Completes a running evaluation; completing a completed one changes nothing. Null when unknown in the workspace.
    /// </summary>
    public async Task<EvaluationView?> CompleteAsync(string workspace, Guid id, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition("""
            WITH completed AS (
                UPDATE evaluations SET status = 'completed', completed_at = now()
                WHERE id = @id AND workspace = @workspace AND status = 'running' RETURNING id
            )
            SELECT EXISTS (SELECT 1 FROM completed) OR EXISTS (SELECT 1 FROM evaluations WHERE id = @id AND workspace = @workspace)
            """, new { workspace, id }, cancellationToken: ct));
        return exists ? await GetAsync(workspace, id, ct) : null;
    }

    public async Task<IReadOnlyList<EvaluationView>> ListAsync(string workspace, string? name, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var evaluations = (await connection.QueryAsync<EvaluationRecord>(new CommandDefinition(
            SelectEvaluations + " WHERE e.workspace = @workspace AND (@name::text IS NULL OR e.name = @name) ORDER BY e.created_at, e.id",
            new { workspace, name }, cancellationToken: ct))).ToList();
        var metrics = (await connection.QueryAsync<MetricRecord>(new CommandDefinition(
            "SELECT * FROM evaluation_metrics WHERE evaluation_id = ANY(@ids) ORDER BY metric_key",
            new { ids = evaluations.Select(e => e.Id).ToArray() }, cancellationToken: ct))).ToLookup(m => m.EvaluationId);
        return evaluations.Select(e => ToView(e, metrics[e.Id])).ToList();
    }

    /// <summary>The evaluation, or null when it is unknown or belongs to another workspace (the caller cannot tell which).</summary>
    public async Task<EvaluationView?> GetAsync(string workspace, Guid id, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var evaluation = await connection.QuerySingleOrDefaultAsync<EvaluationRecord>(new CommandDefinition(
            SelectEvaluations + " WHERE e.id = @id AND e.workspace = @workspace", new { workspace, id }, cancellationToken: ct));
        if (evaluation is null) return null;
        var metrics = await connection.QueryAsync<MetricRecord>(new CommandDefinition(
            "SELECT * FROM evaluation_metrics WHERE evaluation_id = @id ORDER BY metric_key", new { id }, cancellationToken: ct));
        return ToView(evaluation, metrics);
    }

    /// <summary>The ids that name no evaluation of the workspace: another workspace's count as unknown.</summary>
    public async Task<IReadOnlyList<Guid>> FindMissingAsync(string workspace, IReadOnlyCollection<Guid> ids, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var known = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT id FROM evaluations WHERE id = ANY(@ids) AND workspace = @workspace",
            new { workspace, ids = ids.ToArray() }, cancellationToken: ct))).ToHashSet();
        return ids.Where(id => !known.Contains(id)).Distinct().ToList();
    }

    /// <summary>
    /// The workspace's completed evaluations with at least one resolved value for the metric: what an alignment can
    /// learn from. Built-in metrics are shared by every workspace, so the workspace is what narrows the answer.
    /// </summary>
    public async Task<IReadOnlyList<EligibleEvaluation>> EligibleAsync(string workspace, Guid metricId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Starts from the workspace's completed evaluations (evaluations_workspace_completed) and counts each one's
        // resolutions from resolutions_metric_evaluation, rather than counting the metric's resolutions in every workspace.
        var rows = await connection.QueryAsync<(Guid, string, string, DateTime, DateTime?, long, long)>(new CommandDefinition("""
            SELECT e.id, e.name, e.status, e.created_at, e.completed_at,
                   (SELECT count(*) FROM rows r WHERE r.evaluation_id = e.id),
                   counts.resolved
            FROM evaluations e
            CROSS JOIN LATERAL (
                SELECT count(*) AS resolved
                FROM resolutions s WHERE s.metric_id = @metricId AND s.evaluation_id = e.id
            ) counts
            WHERE e.workspace = @workspace AND e.status = 'completed' AND counts.resolved > 0
            ORDER BY e.created_at, e.id
            """, new { workspace, metricId }, cancellationToken: ct));
        return rows.Select(r => new EligibleEvaluation(r.Item1, r.Item2, ParseStatus(r.Item3), Utc(r.Item4), r.Item5 is { } c ? Utc(c) : null, r.Item6, r.Item7)).ToList();
    }

    /// <summary>A page of rows in their stable order, each with every metric's judge score, annotations and resolution.</summary>
    public async Task<RowPage?> RowsAsync(string workspace, Guid evaluationId, Guid? after, int limit, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var evaluation = await GetAsync(workspace, evaluationId, ct);
        if (evaluation is null) return null;
        var rows = (await connection.QueryAsync<RowRecord>(new CommandDefinition("""
            SELECT r.id, r.evaluation_id, r.ordinal, r.external_id, r.input_text, r.input_messages::text AS input_messages,
                   r.output, r.context, r.tags::text AS tags
            FROM rows r
            WHERE r.evaluation_id = @evaluationId
              AND r.ordinal > COALESCE((SELECT a.ordinal FROM rows a WHERE a.id = @after AND a.evaluation_id = @evaluationId), 0)
            ORDER BY r.ordinal
            LIMIT @limit
            """, new { evaluationId, after, limit = limit + 1 }, cancellationToken: ct))).ToList();
        var hasMore = rows.Count > limit;
        if (hasMore) rows.RemoveAt(limit);
        var ids = rows.Select(r => r.Id).ToArray();

        var judge = (await connection.QueryAsync<(Guid RowId, Guid MetricId, double? Score, string? Label, string? Explanation, string? Model)>(
            new CommandDefinition("SELECT row_id, metric_id, score, label, explanation, model FROM judge_scores WHERE row_id = ANY(@ids)",
                new { ids }, cancellationToken: ct))).ToDictionary(j => (j.RowId, j.MetricId));
        var annotations = (await connection.QueryAsync<(Guid RowId, Guid MetricId, string ReviewerId, double? Score, string? Label, string? Comment, DateTime UpdatedAt)>(
            new CommandDefinition("""
                SELECT row_id, metric_id, reviewer_id, score, label, comment, updated_at
                FROM annotations WHERE row_id = ANY(@ids) ORDER BY reviewer_id
                """, new { ids }, cancellationToken: ct))).ToLookup(a => (a.RowId, a.MetricId));
        var resolutions = (await connection.QueryAsync<(Guid RowId, Guid MetricId, double? Score, string? Label, string Method, string? ResolvedBy, string? Note, DateTime ResolvedAt, int Revision)>(
            new CommandDefinition("""
                SELECT row_id, metric_id, score, label, method, resolved_by, note, resolved_at, revision
                FROM resolutions WHERE row_id = ANY(@ids)
                """, new { ids }, cancellationToken: ct))).ToDictionary(r => (r.RowId, r.MetricId));

        var items = rows.Select(r => new RowView(
            r.Id, r.EvaluationId, r.Ordinal, r.ExternalId, r.ToInput(), r.Output, r.Context, r.ToTags(),
            evaluation.Metrics.Select(m => new RowMetricView(
                m.MetricId, m.MetricKey,
                judge.TryGetValue((r.Id, m.MetricId), out var j) ? new JudgeView(j.Score, j.Label, j.Explanation, j.Model) : null,
                annotations[(r.Id, m.MetricId)].Select(a => new ReviewerAnnotation
                {
                    ReviewerId = a.ReviewerId, Score = a.Score, Label = a.Label, Comment = a.Comment, AnnotatedAt = Utc(a.UpdatedAt),
                }).ToList(),
                resolutions.TryGetValue((r.Id, m.MetricId), out var s)
                    ? new ResolutionView(s.Score, s.Label, s.Method, s.ResolvedBy, s.Note, Utc(s.ResolvedAt), s.Revision)
                    : null)).ToList())).ToList();
        return new RowPage(items, hasMore ? items[^1].Id : null);
    }

    static EvaluationView ToView(EvaluationRecord e, IEnumerable<MetricRecord> metrics) => new(
        e.Id, e.Name, ParseStatus(e.Status), Utc(e.CreatedAt), e.CompletedAt is { } c ? Utc(c) : null, e.RowCount,
        metrics.Select(m => new EvaluationMetricView(m.MetricId, m.MetricKey, m.MetricType, m.ResolutionRule)).ToList());

    internal static EvaluationStatus ParseStatus(string status) =>
        status == "completed" ? EvaluationStatus.Completed : EvaluationStatus.Running;

    // Npgsql reads timestamptz as a UTC DateTime.
    internal static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}

/// <summary>A row as stored: input and tags as JSON text, turned into their API shapes on the way out.</summary>
internal sealed record RowRecord(
    Guid Id, Guid EvaluationId, int Ordinal, string? ExternalId, string? InputText, string? InputMessages, string Output,
    string? Context, string Tags)
{
    public RowInput ToInput() => InputMessages is null
        ? new RowInput { Text = InputText }
        : new RowInput { Messages = JsonSerializer.Deserialize<List<ConversationMessage>>(InputMessages, EvaluationImporter.Json) };

    public IReadOnlyDictionary<string, string> ToTags() =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(Tags, EvaluationImporter.Json) ?? [];
}
