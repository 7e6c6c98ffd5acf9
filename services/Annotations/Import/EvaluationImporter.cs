using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.Json;
using Dapper;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Resolution;
using MetricAlignment.Contracts;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace MetricAlignment.Annotations.Import;

public sealed record ImportResult(Guid EvaluationId, int Rows, int Annotations, int Resolved);

public sealed record ImportError(int Line, string Message);

/// <summary>Either the imported evaluation or why nothing was imported.</summary>
public sealed record ImportOutcome(ImportResult? Result, IReadOnlyList<ImportError> Errors, int ErrorCount);

/// <summary>
/// Reads an evaluation in the JSON Lines import format (docs/import-format.md) from a request body as it arrives,
/// validates every line and streams the rows into PostgreSQL with binary COPY, all inside one transaction: either
/// the whole evaluation is stored or, at the first invalid line, writing stops, the rest is only validated (so
/// the client learns every problem at once) and the transaction is rolled back.
/// </summary>
public sealed class EvaluationImporter(NpgsqlDataSource dataSource, IMetricCatalog catalog, IOptions<ImportOptions> options,
    ILogger<EvaluationImporter> logger)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new RowInputJsonConverter() },
    };

    sealed record Line(int Number, ImportHeader? Header, ImportRow? Row, string? Error);

    /// <summary>Imports into the workspace: its metrics are the ones the header may name, and the evaluation is its own.</summary>
    public async Task<ImportOutcome> ImportAsync(string workspace, PipeReader body, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var started = Stopwatch.GetTimestamp();
        var errors = new List<ImportError>();
        var errorCount = 0;
        void Fail(int line, string message)
        {
            errorCount++;
            if (errors.Count < limits.MaxReportedErrors) errors.Add(new ImportError(line, message));
        }

        var headerRead = false;
        Line Parse(int number, ReadOnlySequence<byte> bytes)
        {
            var isHeader = !headerRead;
            headerRead = true;
            try
            {
                var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
                Line line = isHeader
                    ? new(number, JsonSerializer.Deserialize<ImportHeader>(ref reader, Json) ?? throw new JsonException("the header is null"), null, null)
                    : new(number, null, JsonSerializer.Deserialize<ImportRow>(ref reader, Json) ?? throw new JsonException("the row is null"), null);
                if (reader.Read()) throw new JsonException("unexpected content after the JSON object");
                return line;
            }
            catch (JsonException e)
            {
                var where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path}";
                return new(number, null, null, $"invalid JSON{where}: {FirstSentence(e.Message)}");
            }
        }

        Evaluation? evaluation = null;
        ImportWriter? writer = null;
        try
        {
            await foreach (var line in NdjsonLineReader.ReadAsync(body, limits.MaxLineBytes, Parse, cancellationToken))
            {
                if (evaluation is null)
                {
                    if (line.Error is not null)
                    {
                        Fail(line.Number, line.Error + " (line 1 must be the evaluation header)");
                        break;
                    }
                    evaluation = await ReadHeaderAsync(workspace, line.Number, line.Header!, Fail, cancellationToken);
                    if (evaluation is null) break;
                    writer = await ImportWriter.BeginAsync(dataSource, cancellationToken);
                    continue;
                }
                if (line.Error is not null)
                {
                    Fail(line.Number, line.Error);
                    continue;
                }
                var row = Validate(line.Number, line.Row!, evaluation, Fail);
                // After the first invalid line nothing more is written; the rest is only validated.
                if (errorCount == 0) await writer!.WriteRowAsync(row, evaluation, cancellationToken);
            }
        }
        catch (NdjsonLineReader.LineTooLongException e)
        {
            Fail(e.LineNumber, e.Message);
        }

        try
        {
            if (evaluation is null && errorCount == 0) Fail(1, "the body is empty: line 1 must be the evaluation header");
            if (errorCount > 0) return new ImportOutcome(null, errors, errorCount);
            var result = await writer!.CommitAsync(evaluation!, cancellationToken);
            logger.LogInformation("Imported evaluation {EvaluationId} '{Name}': {Rows} rows, {Annotations} annotations, {Resolved} resolved in {Elapsed}",
                result.EvaluationId, evaluation!.Name, result.Rows, result.Annotations, result.Resolved, Stopwatch.GetElapsedTime(started));
            return new ImportOutcome(result, [], 0);
        }
        finally
        {
            if (writer is not null) await writer.DisposeAsync();
        }
    }

    async Task<Evaluation?> ReadHeaderAsync(string workspace, int lineNumber, ImportHeader header, Action<int, string> fail, CancellationToken cancellationToken)
    {
        var before = new List<string>();
        if (string.IsNullOrWhiteSpace(header.Name)) before.Add("name is required");
        var status = header.Status?.ToLowerInvariant() ?? "completed";
        if (status is not ("running" or "completed")) before.Add($"status '{header.Status}' is not running or completed");
        if (header.Metrics is not { Count: > 0 }) before.Add("metrics must list at least one metric");
        var (metrics, metricErrors) = await DeclaredMetric.ResolveAsync(workspace,
            (header.Metrics ?? []).Select(m => (m?.Metric, m?.Resolution)), catalog, cancellationToken);
        foreach (var message in before.Concat(metricErrors)) fail(lineNumber, "header: " + message);
        if (before.Count > 0 || metricErrors.Count > 0) return null;
        return new Evaluation(Guid.CreateVersion7(), workspace, header.Name!.Trim(), status, metrics);
    }

    static ValidRow Validate(int lineNumber, ImportRow row, Evaluation evaluation, Action<int, string> fail)
    {
        if (row.Input is null) fail(lineNumber, "input is required (a string or an array of {role, content} messages)");
        if (row.Output is null) fail(lineNumber, "output is required");
        if (row.Tags is not null)
            foreach (var (key, value) in row.Tags)
                if (value is null) fail(lineNumber, $"tags.{key} has no value (tags are strings)");

        var judge = new List<(DeclaredMetric Metric, ImportJudgeScore Score)>();
        foreach (var (key, score) in row.Judge ?? [])
        {
            var metric = evaluation.Find(key);
            if (metric is null) fail(lineNumber, $"judge.{key}: metric '{key}' is not declared in the header");
            else if (score is null) fail(lineNumber, $"judge.{key}: a score or label is required");
            else if (metric.Definition.CheckValue(score.Score, score.Label) is { } problem) fail(lineNumber, $"judge.{key}: {problem}");
            else judge.Add((metric, score));
        }

        var annotations = new List<(DeclaredMetric Metric, ImportAnnotation Annotation)>();
        var seen = new HashSet<(Guid, string)>();
        var index = 0;
        foreach (var annotation in row.Annotations ?? [])
        {
            var at = $"annotations[{index++}]";
            if (annotation is null)
            {
                fail(lineNumber, $"{at}: is null");
                continue;
            }
            var metric = string.IsNullOrEmpty(annotation.Metric) ? null : evaluation.Find(annotation.Metric);
            if (string.IsNullOrEmpty(annotation.Metric)) fail(lineNumber, $"{at}: metric is required");
            else if (metric is null) fail(lineNumber, $"{at}: metric '{annotation.Metric}' is not declared in the header");
            if (string.IsNullOrWhiteSpace(annotation.ReviewerId)) fail(lineNumber, $"{at}: reviewerId is required");
            if (metric is null || string.IsNullOrWhiteSpace(annotation.ReviewerId)) continue;
            if (metric.Definition.CheckValue(annotation.Score, annotation.Label) is { } problem) fail(lineNumber, $"{at}: {problem}");
            else if (!seen.Add((metric.Definition.Id, annotation.ReviewerId))) fail(lineNumber, $"{at}: reviewer '{annotation.ReviewerId}' annotates metric '{metric.Definition.Key}' twice");
            else annotations.Add((metric, annotation));
        }
        return new ValidRow(row, judge, annotations);
    }

    static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }

    internal sealed record Evaluation(Guid Id, string Workspace, string Name, string Status, IReadOnlyList<DeclaredMetric> Metrics)
    {
        readonly Dictionary<string, DeclaredMetric> byKeyOrId = Metrics
            .SelectMany(m => new[] { (m.Definition.Key, m), (m.Definition.Id.ToString(), m) })
            .DistinctBy(p => p.Item1)
            .ToDictionary(p => p.Item1, p => p.m, StringComparer.Ordinal);

        public DeclaredMetric? Find(string keyOrId) => byKeyOrId.GetValueOrDefault(keyOrId);
    }

    internal sealed record ValidRow(
        ImportRow Row,
        IReadOnlyList<(DeclaredMetric Metric, ImportJudgeScore Score)> Judge,
        IReadOnlyList<(DeclaredMetric Metric, ImportAnnotation Annotation)> Annotations);

    /// <summary>
    /// One connection, one transaction. Rows go through a single binary COPY into a temporary staging table, one
    /// record per row with its judge scores, annotations and resolutions as parallel arrays (a connection runs
    /// one COPY at a time, and a row feeds four tables); the staged records are then moved into the real tables
    /// with one INSERT ... SELECT per table, unnesting the arrays.
    /// </summary>
    sealed class ImportWriter : IAsyncDisposable
    {
        readonly NpgsqlConnection connection;
        readonly NpgsqlTransaction transaction;
        NpgsqlBinaryImporter? copy;
        int rows, annotations, resolved;

        ImportWriter(NpgsqlConnection connection, NpgsqlTransaction transaction, NpgsqlBinaryImporter copy)
        {
            this.connection = connection;
            this.transaction = transaction;
            this.copy = copy;
        }

        public static async Task<ImportWriter> BeginAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            try
            {
                var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await connection.ExecuteAsync(new CommandDefinition("""
                    CREATE TEMPORARY TABLE import_staging (
                        row_id          uuid NOT NULL,
                        ordinal         integer NOT NULL,
                        external_id     text,
                        input_text      text,
                        input_messages  jsonb,
                        output          text NOT NULL,
                        context         text,
                        tags            jsonb NOT NULL,
                        judge_metric    uuid[] NOT NULL,
                        judge_score     double precision[] NOT NULL,
                        judge_label     text[] NOT NULL,
                        judge_explanation text[] NOT NULL,
                        judge_model     text[] NOT NULL,
                        note_metric     uuid[] NOT NULL,
                        note_reviewer   text[] NOT NULL,
                        note_score      double precision[] NOT NULL,
                        note_label      text[] NOT NULL,
                        note_comment    text[] NOT NULL,
                        resolved_metric uuid[] NOT NULL,
                        resolved_score  double precision[] NOT NULL,
                        resolved_label  text[] NOT NULL,
                        resolved_method text[] NOT NULL
                    ) ON COMMIT DROP
                    """, transaction: transaction, cancellationToken: cancellationToken));
                var copy = await connection.BeginBinaryImportAsync("""
                    COPY import_staging FROM STDIN (FORMAT BINARY)
                    """, cancellationToken);
                return new ImportWriter(connection, transaction, copy);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        public async Task WriteRowAsync(ValidRow valid, Evaluation evaluation, CancellationToken ct)
        {
            var row = valid.Row;
            rows++;
            annotations += valid.Annotations.Count;

            var resolutions = new List<(Guid MetricId, ResolvedValue Value)>();
            foreach (var byMetric in valid.Annotations.GroupBy(a => a.Metric))
            {
                var metric = byMetric.Key;
                var value = metric.Definition.Type == MetricType.Quantitative
                    ? ResolutionPolicy.Automatic(byMetric.Select(a => a.Annotation.Score!.Value).ToList(), metric.Rule)
                    : ResolutionPolicy.Automatic(byMetric.Select(a => a.Annotation.Label!).ToList(), metric.Rule);
                if (value is not null) resolutions.Add((metric.Definition.Id, value));
            }
            resolved += resolutions.Count;

            await copy!.StartRowAsync(ct);
            await copy.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(rows, NpgsqlDbType.Integer, ct);
            await Text(row.ExternalId, ct);
            await Text(row.Input!.Messages is null ? row.Input.Text : null, ct);
            if (row.Input.Messages is { } messages) await copy.WriteAsync(JsonSerializer.Serialize(messages, Json), NpgsqlDbType.Jsonb, ct);
            else await copy.WriteNullAsync(ct);
            await copy.WriteAsync(row.Output!, NpgsqlDbType.Text, ct);
            await Text(row.Context, ct);
            await copy.WriteAsync(JsonSerializer.Serialize(row.Tags ?? [], Json), NpgsqlDbType.Jsonb, ct);

            var judge = valid.Judge;
            await Uuids(judge.Select(j => j.Metric.Definition.Id), ct);
            await Doubles(judge.Select(j => j.Score.Score), ct);
            await Texts(judge.Select(j => j.Score.Label), ct);
            await Texts(judge.Select(j => j.Score.Explanation), ct);
            await Texts(judge.Select(j => j.Score.Model), ct);

            var notes = valid.Annotations;
            await Uuids(notes.Select(a => a.Metric.Definition.Id), ct);
            await Texts(notes.Select(a => a.Annotation.ReviewerId), ct);
            await Doubles(notes.Select(a => a.Annotation.Score), ct);
            await Texts(notes.Select(a => a.Annotation.Label), ct);
            await Texts(notes.Select(a => a.Annotation.Comment), ct);

            await Uuids(resolutions.Select(r => r.MetricId), ct);
            await Doubles(resolutions.Select(r => r.Value.Score), ct);
            await Texts(resolutions.Select(r => r.Value.Label), ct);
            await Texts(resolutions.Select(r => (string?)r.Value.Method), ct);
        }

        Task Text(string? value, CancellationToken ct) =>
            value is null ? copy!.WriteNullAsync(ct) : copy!.WriteAsync(value, NpgsqlDbType.Text, ct);

        Task Uuids(IEnumerable<Guid> values, CancellationToken ct) =>
            copy!.WriteAsync(values.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Uuid, ct);

        Task Doubles(IEnumerable<double?> values, CancellationToken ct) =>
            copy!.WriteAsync(values.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Double, ct);

        Task Texts(IEnumerable<string?> values, CancellationToken ct) =>
            copy!.WriteAsync(values.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, ct);

        public async Task<ImportResult> CommitAsync(Evaluation evaluation, CancellationToken ct)
        {
            await copy!.CompleteAsync(ct);
            await copy.DisposeAsync();
            copy = null;

            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO evaluations (id, workspace, name, status, created_at, completed_at)
                VALUES (@Id, @Workspace, @Name, @Status, now(), CASE WHEN @Status = 'completed' THEN now() END)
                """, new { evaluation.Id, evaluation.Workspace, evaluation.Name, evaluation.Status }, transaction, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO evaluation_metrics (evaluation_id, metric_id, metric_key, metric_type, resolution_rule)
                VALUES (@EvaluationId, @MetricId, @MetricKey, @MetricType, @ResolutionRule)
                """, evaluation.Metrics.Select(m => new
                {
                    EvaluationId = evaluation.Id,
                    MetricId = m.Definition.Id,
                    MetricKey = m.Definition.Key,
                    MetricType = DeclaredMetric.TypeName(m.Definition.Type),
                    ResolutionRule = ResolutionMethods.Of(m.Rule),
                }), transaction, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO rows (id, evaluation_id, ordinal, external_id, input_text, input_messages, output, context, tags)
                SELECT row_id, @Id, ordinal, external_id, input_text, input_messages, output, context, tags
                FROM import_staging ORDER BY ordinal;

                INSERT INTO judge_scores (row_id, metric_id, score, label, explanation, model)
                SELECT s.row_id, j.metric_id, j.score, j.label, j.explanation, j.model
                FROM import_staging s,
                     unnest(s.judge_metric, s.judge_score, s.judge_label, s.judge_explanation, s.judge_model)
                         AS j (metric_id, score, label, explanation, model);

                INSERT INTO annotations (row_id, metric_id, reviewer_id, score, label, comment)
                SELECT s.row_id, a.metric_id, a.reviewer_id, a.score, a.label, a.comment
                FROM import_staging s,
                     unnest(s.note_metric, s.note_reviewer, s.note_score, s.note_label, s.note_comment)
                         AS a (metric_id, reviewer_id, score, label, comment);

                INSERT INTO resolutions (row_id, metric_id, evaluation_id, score, label, method, revision)
                SELECT s.row_id, r.metric_id, @Id, r.score, r.label, r.method, 1
                FROM import_staging s,
                     unnest(s.resolved_metric, s.resolved_score, s.resolved_label, s.resolved_method) AS r (metric_id, score, label, method);

                INSERT INTO resolution_history (row_id, metric_id, revision, score, label, method, resolved_at)
                SELECT row_id, metric_id, 1, score, label, method, resolved_at FROM resolutions WHERE evaluation_id = @Id;
                """, new { evaluation.Id }, transaction, commandTimeout: 600, cancellationToken: ct));
            await transaction.CommitAsync(ct);
            return new ImportResult(evaluation.Id, rows, annotations, resolved);
        }

        public async ValueTask DisposeAsync()
        {
            // An unfinished COPY is cancelled on dispose, and an uncommitted transaction rolled back: nothing stays.
            if (copy is not null)
            {
                try { await copy.DisposeAsync(); }
                catch (Exception e) when (e is NpgsqlException or PostgresException or InvalidOperationException) { }
            }
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
