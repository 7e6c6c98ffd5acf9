using Dapper;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Resolution;
using MetricAlignment.Contracts;
using Npgsql;

namespace MetricAlignment.Annotations.Rows;

public sealed record AnnotationResult(bool Created, ReviewerAnnotation Annotation, ResolutionView? Resolution);

public sealed record ResolutionHistoryEntry(
    int Revision, double? Score, string? Label, string Method, string? ResolvedBy, string? Note, DateTimeOffset ResolvedAt);

/// <summary>
/// Reviewers' annotations and the resolution they lead to. Each change to a (row, metric) runs in one transaction
/// holding the row's lock, so that two reviewers annotating at once cannot both decide the resolution from a
/// stale picture.
/// </summary>
public sealed class AnnotationStore(NpgsqlDataSource dataSource)
{
    sealed record CurrentResolution(double? Score, string? Label, string Method, int Revision);

    sealed record ResolutionRecord(double? Score, string? Label, string Method, string? ResolvedBy, string? Note, DateTime ResolvedAt, int Revision);

    /// <summary>The row's evaluation, or null when the row is unknown or belongs to another workspace.</summary>
    public async Task<Guid?> FindEvaluationAsync(string workspace, Guid rowId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition("""
            SELECT r.evaluation_id FROM rows r JOIN evaluations e ON e.id = r.evaluation_id
            WHERE r.id = @rowId AND e.workspace = @workspace
            """, new { workspace, rowId }, cancellationToken: ct));
    }

    /// <summary>
    /// Adds or replaces the reviewer's annotation and re-derives the automatic resolution. Null when the row is unknown
    /// in the workspace.
    /// </summary>
    public async Task<AnnotationResult?> AnnotateAsync(string workspace, Guid rowId, MetricDefinition metric, string reviewerId, double? score, string? label,
        string? comment, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var evaluationId = await LockRowAsync(connection, transaction, workspace, rowId, ct);
        if (evaluationId is null) return null;

        // An annotation for a metric the evaluation did not declare adds it, with no bulk rule.
        await EvaluationStore.DeclareMetricsAsync(connection, transaction, evaluationId.Value, [new DeclaredMetric(metric, ResolutionRule.None)], ct);
        var ruleText = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            "SELECT resolution_rule FROM evaluation_metrics WHERE evaluation_id = @evaluationId AND metric_id = @metricId",
            new { evaluationId, metricId = metric.Id }, transaction, cancellationToken: ct));
        ResolutionMethods.TryParseRule(ruleText, out var rule);

        var replaced = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO annotation_revisions (row_id, metric_id, reviewer_id, score, label, comment, annotated_at)
            SELECT row_id, metric_id, reviewer_id, score, label, comment, updated_at
            FROM annotations WHERE row_id = @rowId AND metric_id = @metricId AND reviewer_id = @reviewerId
            """, new { rowId, metricId = metric.Id, reviewerId }, transaction, cancellationToken: ct));
        var annotatedAt = await connection.ExecuteScalarAsync<DateTime>(new CommandDefinition("""
            INSERT INTO annotations (row_id, metric_id, reviewer_id, score, label, comment)
            VALUES (@rowId, @metricId, @reviewerId, @score, @label, @comment)
            ON CONFLICT (row_id, metric_id, reviewer_id) DO UPDATE
                SET score = excluded.score, label = excluded.label, comment = excluded.comment, updated_at = clock_timestamp()
            RETURNING updated_at
            """, new { rowId, metricId = metric.Id, reviewerId, score, label, comment }, transaction, cancellationToken: ct));

        var values = (await connection.QueryAsync<(double? Score, string? Label)>(new CommandDefinition(
            "SELECT score, label FROM annotations WHERE row_id = @rowId AND metric_id = @metricId",
            new { rowId, metricId = metric.Id }, transaction, cancellationToken: ct))).ToList();
        var automatic = metric.Type == MetricType.Quantitative
            ? ResolutionPolicy.Automatic(values.Where(v => v.Score is not null).Select(v => v.Score!.Value).ToList(), rule)
            : ResolutionPolicy.Automatic(values.Where(v => v.Label is not null).Select(v => v.Label!).ToList(), rule);
        await ApplyAutomaticAsync(connection, transaction, rowId, evaluationId.Value, metric.Id, automatic, ct);

        var resolution = await CurrentAsync(connection, transaction, rowId, metric.Id, ct);
        await transaction.CommitAsync(ct);
        return new AnnotationResult(replaced == 0,
            new ReviewerAnnotation { ReviewerId = reviewerId, Score = score, Label = label, Comment = comment, AnnotatedAt = EvaluationStore.Utc(annotatedAt) },
            resolution);
    }

    /// <summary>A person's decision (or revision of one). Null when the row is unknown in the workspace.</summary>
    public async Task<ResolutionView?> ResolveAsync(string workspace, Guid rowId, MetricDefinition metric, string resolvedBy, double? score, string? label,
        string? note, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var evaluationId = await LockRowAsync(connection, transaction, workspace, rowId, ct);
        if (evaluationId is null) return null;
        await EvaluationStore.DeclareMetricsAsync(connection, transaction, evaluationId.Value, [new DeclaredMetric(metric, ResolutionRule.None)], ct);
        await WriteResolutionAsync(connection, transaction, rowId, evaluationId.Value, metric.Id,
            new ResolvedValue(score, label, ResolutionMethods.Explicit), resolvedBy, note, ct);
        var resolution = await CurrentAsync(connection, transaction, rowId, metric.Id, ct);
        await transaction.CommitAsync(ct);
        return resolution;
    }

    public async Task<IReadOnlyList<ResolutionHistoryEntry>> HistoryAsync(Guid rowId, Guid metricId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var entries = await connection.QueryAsync<(int Revision, double? Score, string? Label, string Method, string? ResolvedBy, string? Note, DateTime ResolvedAt)>(
            new CommandDefinition("""
                SELECT revision, score, label, method, resolved_by, note, resolved_at
                FROM resolution_history WHERE row_id = @rowId AND metric_id = @metricId
                ORDER BY revision
                """, new { rowId, metricId }, cancellationToken: ct));
        return entries.Select(e => new ResolutionHistoryEntry(e.Revision, e.Score, e.Label, e.Method, e.ResolvedBy, e.Note, EvaluationStore.Utc(e.ResolvedAt))).ToList();
    }

    static Task<Guid?> LockRowAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string workspace, Guid rowId,
        CancellationToken ct) =>
        connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition("""
            SELECT r.evaluation_id FROM rows r JOIN evaluations e ON e.id = r.evaluation_id
            WHERE r.id = @rowId AND e.workspace = @workspace
            FOR UPDATE OF r
            """, new { workspace, rowId }, transaction, cancellationToken: ct));

    /// <summary>
    /// A person's resolution stands until a person revises it; an automatic one follows the annotations, and is
    /// withdrawn (recorded in the history as 'unresolved') when they stop agreeing.
    /// </summary>
    static async Task ApplyAutomaticAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid rowId, Guid evaluationId,
        Guid metricId, ResolvedValue? automatic, CancellationToken ct)
    {
        var current = await connection.QuerySingleOrDefaultAsync<CurrentResolution>(new CommandDefinition(
            "SELECT score, label, method, revision FROM resolutions WHERE row_id = @rowId AND metric_id = @metricId",
            new { rowId, metricId }, transaction, cancellationToken: ct));
        if (current?.Method == ResolutionMethods.Explicit) return;
        if (automatic is null)
        {
            if (current is null) return;
            await connection.ExecuteAsync(new CommandDefinition("""
                DELETE FROM resolutions WHERE row_id = @rowId AND metric_id = @metricId;
                INSERT INTO resolution_history (row_id, metric_id, revision, method, resolved_at)
                VALUES (@rowId, @metricId, @revision, 'unresolved', clock_timestamp());
                """, new { rowId, metricId, revision = current.Revision + 1 }, transaction, cancellationToken: ct));
            return;
        }
        if (current is not null && current.Score == automatic.Score && current.Label == automatic.Label && current.Method == automatic.Method) return;
        await WriteResolutionAsync(connection, transaction, rowId, evaluationId, metricId, automatic, null, null, ct);
    }

    static Task WriteResolutionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid rowId, Guid evaluationId,
        Guid metricId, ResolvedValue value, string? resolvedBy, string? note, CancellationToken ct) =>
        // The next revision follows the history, not the current row: a withdrawn resolution still used a number.
        connection.ExecuteAsync(new CommandDefinition("""
            WITH next AS (
                SELECT COALESCE(max(revision), 0) + 1 AS revision
                FROM resolution_history WHERE row_id = @rowId AND metric_id = @metricId
            ), saved AS (
                INSERT INTO resolutions (row_id, metric_id, evaluation_id, score, label, method, resolved_by, note, resolved_at, revision)
                SELECT @rowId, @metricId, @evaluationId, @Score, @Label, @Method, @resolvedBy, @note, clock_timestamp(), next.revision FROM next
                ON CONFLICT (row_id, metric_id) DO UPDATE
                    SET score = excluded.score, label = excluded.label, method = excluded.method, resolved_by = excluded.resolved_by,
                        note = excluded.note, resolved_at = excluded.resolved_at, revision = excluded.revision
                RETURNING row_id, metric_id, revision, score, label, method, resolved_by, note, resolved_at
            )
            INSERT INTO resolution_history (row_id, metric_id, revision, score, label, method, resolved_by, note, resolved_at)
            SELECT row_id, metric_id, revision, score, label, method, resolved_by, note, resolved_at FROM saved
            """, new { rowId, metricId, evaluationId, value.Score, value.Label, value.Method, resolvedBy, note }, transaction, cancellationToken: ct));

    static async Task<ResolutionView?> CurrentAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid rowId, Guid metricId, CancellationToken ct)
    {
        var r = await connection.QuerySingleOrDefaultAsync<ResolutionRecord>(
            new CommandDefinition("""
                SELECT score, label, method, resolved_by, note, resolved_at, revision
                FROM resolutions WHERE row_id = @rowId AND metric_id = @metricId
                """, new { rowId, metricId }, transaction, cancellationToken: ct));
        return r is null ? null : new ResolutionView(r.Score, r.Label, r.Method, r.ResolvedBy, r.Note, EvaluationStore.Utc(r.ResolvedAt), r.Revision);
    }
}
