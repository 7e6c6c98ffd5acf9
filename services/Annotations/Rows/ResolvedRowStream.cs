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

    /// <summary>The (evaluation, ordinal) position of a row, or null when it is unknown in the workspace.</summary>
    public async Task<(Guid EvaluationId, int Ordinal)?> PositionOfAsync(string workspace, Guid rowId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var position = await connection.QuerySingleOrDefaultAsync<Position>(new CommandDefinition("""
            SELECT r.evaluation_id, r.ordinal FROM rows r JOIN evaluations e ON e.id = r.evaluation_id
            WHERE r.id = @rowId AND e.workspace = @workspace
            """, new { workspace, rowId }, cancellationToken: ct));
        return position is null ? null : (position.EvaluationId, position.Ordinal);
    }

    sealed record Position(Guid EvaluationId, int Ordinal);

    /// <summary>
    /// Streams the rows of <paramref name="evaluationIds"/>, which the caller has already checked belong to its
    /// workspace: the per-row query stays free of the join that would check it again for every row.
    /// </summary>
    public async Task WriteAsync(HttpResponse response, MetricDefinition metric, IReadOnlyList<Guid> evaluationIds,
        (Guid EvaluationId, int Ordinal)? after, int? limit, CancellationToken ct)
    {
        response.ContentType = ContentType;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var command = new NpgsqlCommand("""
            SELECT r.id, r.evaluation_id, r.external_id, r.input_text, r.input_messages::text, r.output, r.context, r.tags::text,
                   j.score, j.label, j.explanation, j.model,
                   s.score, s.label, s.method,
                   (SELECT jsonb_agg(jsonb_build_object(
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
        // A million rows take longer than the default 30 s command timeout to sort before the first row, and a slow reader
        // holds the stream open for as long as it reads: the request's cancellation (client gone, run cancelled) bounds
        // the query instead.
        command.CommandTimeout = 0;
        command.Parameters.AddWithValue("metricId", metric.Id);
        command.Parameters.AddWithValue("evaluationIds", evaluationIds.ToArray());
        command.Parameters.AddWithValue("paged", after is not null);
        command.Parameters.AddWithValue("afterEvaluation", after?.EvaluationId ?? Guid.Empty);
        command.Parameters.AddWithValue("afterOrdinal", after?.Ordinal ?? 0);
        command.Parameters.AddWithValue("limit", (object?)limit ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint;

        // The headers go out before the query runs: a caller's timeout on the response headers (the standard resilience
        // handler's) must not fire while PostgreSQL plans and sorts a large selection. The connection is already open, so a
        // database that is down still answers 503; a failure after this point aborts the response, which the reader sees
        // as a broken stream, never as a shorter one.
        await response.StartAsync(ct);
        await response.BodyWriter.FlushAsync(ct);
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        var body = response.BodyWriter;
        await using var json = new Utf8JsonWriter(body);
        long unflushed = 0;
        while (await reader.ReadAsync(ct))
        {
            // The shape of JsonSerializer.Serialize(ResolvedRow) with web defaults, written by hand so that the columns
            // PostgreSQL already holds as JSON (input messages, tags, reviewers) go out as they are, not parsed and rebuilt.
            // jsonb's text form is one line (strings escaped, no layout), which keeps every row on its own NDJSON line.
            json.WriteStartObject();
            json.WriteString("rowId", reader.GetGuid(0));
            json.WriteString("evaluationId", reader.GetGuid(1));
            WriteNullableString(json, "externalId", reader, 2);
            json.WriteStartObject("input");
            WriteNullableString(json, "text", reader, 3);
            json.WritePropertyName("messages");
            WriteRawOrNull(json, reader, 4, "null");
            json.WriteEndObject();
            json.WriteString("output", reader.GetString(5));
            WriteNullableString(json, "context", reader, 6);
            json.WritePropertyName("tags");
            WriteRawOrNull(json, reader, 7, "{}");
            json.WriteString("metricId", metric.Id);
            json.WriteString("metricKey", metric.Key);
            WriteNullableNumber(json, "judgeScore", reader, 8);
            WriteNullableString(json, "judgeLabel", reader, 9);
            WriteNullableString(json, "judgeExplanation", reader, 10);
            WriteNullableString(json, "judgeModel", reader, 11);
            WriteNullableNumber(json, "resolvedScore", reader, 12);
            WriteNullableString(json, "resolvedLabel", reader, 13);
            json.WriteString("resolutionMethod", reader.GetString(14));
            json.WritePropertyName("reviewers");
            WriteRawOrNull(json, reader, 15, "[]");
            json.WriteEndObject();
            json.Flush();
            unflushed += json.BytesCommitted + 1;
            json.Reset();
            body.Write("\n"u8);
            // Hand data to the client in chunks of about 64 KB: not row by row, and not all at the end.
            if (unflushed >= FlushBytes)
            {
                await body.FlushAsync(ct);
                unflushed = 0;
            }
        }
        await body.FlushAsync(ct);
    }

    const int FlushBytes = 64 * 1024;

    static void WriteNullableString(Utf8JsonWriter json, string name, NpgsqlDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal)) json.WriteNull(name);
        else json.WriteString(name, reader.GetString(ordinal));
    }

    static void WriteNullableNumber(Utf8JsonWriter json, string name, NpgsqlDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal)) json.WriteNull(name);
        else json.WriteNumber(name, reader.GetDouble(ordinal));
    }

    /// <summary>A jsonb column's text as the value; the server produced it, so it is not validated again.</summary>
    static void WriteRawOrNull(Utf8JsonWriter json, NpgsqlDataReader reader, int ordinal, string whenNull) =>
        json.WriteRawValue(reader.IsDBNull(ordinal) ? whenNull : reader.GetString(ordinal), skipInputValidation: true);
}
