using System.Buffers;
using System.Data;
using System.Text.Json;
using Dapper;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Import;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Contracts;
using Npgsql;

namespace MetricAlignment.Annotations.Rows;

/// <summary>
/// Writes the resolved rows of a metric as NDJSON straight from a server-side reader: one row in memory at a time,
/// whatever the number of rows. Order is (evaluation id, ordinal), so "after the last row id seen" pages consistently.
/// </summary>
public sealed class ResolvedRowStream(NpgsqlDataSource dataSource)
{
    public const string ContentType = "application/x-ndjson";

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The (evaluation, ordinal) position of a row, or null when it is unknown.</summary>
    public async Task<(Guid EvaluationId, int Ordinal)?> PositionOfAsync(Guid rowId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var position = await connection.QuerySingleOrDefaultAsync<Position>(new CommandDefinition(
            "SELECT evaluation_id, ordinal FROM rows WHERE id = @rowId", new { rowId }, cancellationToken: ct));
        return position is null ? null : (position.EvaluationId, position.Ordinal);
    }

    sealed record Position(Guid EvaluationId, int Ordinal);

    public async Task WriteAsync(HttpResponse response, MetricDefinition metric, IReadOnlyList<Guid> evaluationIds,
        (Guid EvaluationId, int Ordinal)? after, int? limit, CancellationToken ct)
    {
        response.ContentType = ContentType;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var command = new NpgsqlCommand("""
            SELECT r.id, r.evaluation_id, r.external_id, r.input_text, r.input_messages::text, r.output, r.context, r.tags::text,
                   j.score, j.label, j.explanation, j.model,
                   s.score, s.label, s.method,
                   (SELECT json_agg(json_build_object(
                               'reviewerId', a.reviewer_id, 'score', a.score, 'label', a.label,
                               'comment', a.comment, 'annotatedAt', a.updated_at) ORDER BY a.reviewer_id)
                    FROM annotations a WHERE a.row_id = r.id AND a.metric_id = s.metric_id)::text
            FROM rows r
            JOIN resolutions s ON s.row_id = r.id AND s.metric_id = @metricId
            LEFT JOIN judge_scores j ON j.row_id = r.id AND j.metric_id = s.metric_id
            WHERE r.evaluation_id = ANY(@evaluationIds)
              AND (NOT @paged OR (r.evaluation_id, r.ordinal) > (@afterEvaluation, @afterOrdinal))
            ORDER BY r.evaluation_id, r.ordinal
            LIMIT @limit
            """, connection);
        command.Parameters.AddWithValue("metricId", metric.Id);
        command.Parameters.AddWithValue("evaluationIds", evaluationIds.ToArray());
        command.Parameters.AddWithValue("paged", after is not null);
        command.Parameters.AddWithValue("afterEvaluation", after?.EvaluationId ?? Guid.Empty);
        command.Parameters.AddWithValue("afterOrdinal", after?.Ordinal ?? 0);
        command.Parameters.AddWithValue("limit", (object?)limit ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint;

        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        var body = response.BodyWriter;
        await using var json = new Utf8JsonWriter(body);
        var written = 0;
        while (await reader.ReadAsync(ct))
        {
            var row = new ResolvedRow
            {
                RowId = reader.GetGuid(0),
                EvaluationId = reader.GetGuid(1),
                ExternalId = NullableString(reader, 2),
                Input = ReadInput(NullableString(reader, 3), NullableString(reader, 4)),
                Output = reader.GetString(5),
                Context = NullableString(reader, 6),
                Tags = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(7), Json) ?? [],
                MetricId = metric.Id,
                MetricKey = metric.Key,
                JudgeScore = NullableDouble(reader, 8),
                JudgeLabel = NullableString(reader, 9),
                JudgeExplanation = NullableString(reader, 10),
                JudgeModel = NullableString(reader, 11),
                ResolvedScore = NullableDouble(reader, 12),
                ResolvedLabel = NullableString(reader, 13),
                ResolutionMethod = reader.GetString(14),
                Reviewers = NullableString(reader, 15) is { } reviewers
                    ? JsonSerializer.Deserialize<List<ReviewerAnnotation>>(reviewers, Json) ?? []
                    : [],
            };
            JsonSerializer.Serialize(json, row, Json);
            json.Flush();
            json.Reset();
            body.Write("\n"u8);
            // Hand data to the client in chunks, not row by row, and not all at the end.
            if (++written % 64 == 0) await body.FlushAsync(ct);
        }
        await body.FlushAsync(ct);
    }

    static RowInput ReadInput(string? text, string? messages) => messages is null
        ? new RowInput { Text = text }
        : new RowInput { Messages = JsonSerializer.Deserialize<List<ConversationMessage>>(messages, EvaluationImporter.Json) };

    static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    static double? NullableDouble(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetDouble(ordinal);
}
