using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace MetricAlignment.Bench;

/// <summary>A generated annotated row: a ~1 KB conversation input, a ~300 B output, a judge score and three reviewers.</summary>
public sealed record GeneratedRow(
    int Ordinal, string ExternalId, string Instruction, string Article, string Output, string System, string Batch,
    double JudgeScore, string JudgeExplanation, double[] ReviewerScores, string?[] ReviewerComments)
{
    public double ResolvedScore => ReviewerScores.Order().ElementAt(ReviewerScores.Length / 2);
    public string ResolutionMethod => ReviewerScores.Distinct().Count() == 1 ? "unanimous" : "median";
}

/// <summary>
/// Deterministic rows for the built-in 1-5 "fluency" metric. Texts come from fixed pools so that generating a row
/// costs next to nothing next to storing it; the same seed gives the same rows to the service and to the reference.
/// </summary>
public static class RowGenerator
{
    public const string MetricKey = "fluency";
    public static readonly Guid MetricId = Guid.Parse("c1e634d9-e69e-4a01-87d7-ac4c7c84185c");
    public static readonly string[] Reviewers = ["r1", "r2", "r3"];

    static readonly string[] Words =
    [
        "the", "council", "harbour", "extension", "approved", "budget", "residents", "said", "minister", "report", "weeks",
        "after", "storm", "damage", "estimated", "million", "pounds", "officials", "confirmed", "plans", "would", "include",
        "new", "flood", "defences", "while", "critics", "argued", "costs", "had", "been", "underestimated", "by", "a", "third",
    ];
    static readonly string[] Articles = Pool(97, 950, 1);
    static readonly string[] Outputs = Pool(89, 300, 2);
    static readonly string[] Explanations = ["Reads naturally.", "One awkward sentence.", "Choppy in places, repeated words.", "Fluent and clear."];
    static readonly string?[] Comments = [null, "one awkward sentence", "repeats the same phrase twice", null, "hard to follow at the end"];

    static string[] Pool(int count, int length, int seed)
    {
        var random = new Random(seed);
        var pool = new string[count];
        for (var i = 0; i < count; i++)
        {
            var text = new StringBuilder(length + 16);
            while (text.Length < length) text.Append(Words[random.Next(Words.Length)]).Append(random.Next(12) == 0 ? ". " : " ");
            pool[i] = text.ToString(0, length);
        }
        return pool;
    }

    public static IEnumerable<GeneratedRow> Rows(int count, int seed)
    {
        var random = new Random(seed);
        for (var ordinal = 1; ordinal <= count; ordinal++)
        {
            var human = random.Next(1, 6);
            var reviewers = Reviewers.Select(_ => (double)Math.Clamp(human + random.Next(-1, 2), 1, 5)).ToArray();
            var judge = random.Next(4) == 0 ? random.Next(1, 6) : Math.Clamp(human + random.Next(0, 2), 1, 5);
            yield return new GeneratedRow(
                ordinal, $"doc-{seed}-{ordinal}", "Summarise the article in three sentences.",
                Articles[(ordinal * 31) % Articles.Length], Outputs[(ordinal * 17) % Outputs.Length],
                $"system-{ordinal % 4}", $"batch-{seed % 8}", judge, Explanations[ordinal % Explanations.Length],
                reviewers, Reviewers.Select((_, i) => Comments[(ordinal + i) % Comments.Length]).ToArray());
        }
    }

    public static string Header(string name) => JsonSerializer.Serialize(new
    {
        name, status = "completed", metrics = new[] { new { metric = MetricKey, resolution = "median" } },
    });

    public static void WriteLine(Utf8JsonWriter json, GeneratedRow row)
    {
        json.WriteStartObject();
        json.WriteString("externalId", row.ExternalId);
        json.WriteStartArray("input");
        WriteMessage(json, "system", row.Instruction);
        WriteMessage(json, "user", row.Article);
        json.WriteEndArray();
        json.WriteString("output", row.Output);
        json.WriteStartObject("tags");
        json.WriteString("system", row.System);
        json.WriteString("batch", row.Batch);
        json.WriteEndObject();
        json.WriteStartObject("judge");
        json.WriteStartObject(MetricKey);
        json.WriteNumber("score", row.JudgeScore);
        json.WriteString("explanation", row.JudgeExplanation);
        json.WriteString("model", "gpt-4");
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartArray("annotations");
        for (var i = 0; i < Reviewers.Length; i++)
        {
            json.WriteStartObject();
            json.WriteString("metric", MetricKey);
            json.WriteString("reviewerId", Reviewers[i]);
            json.WriteNumber("score", row.ReviewerScores[i]);
            if (row.ReviewerComments[i] is { } comment) json.WriteString("comment", comment);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    static void WriteMessage(Utf8JsonWriter json, string role, string content)
    {
        json.WriteStartObject();
        json.WriteString("role", role);
        json.WriteString("content", content);
        json.WriteEndObject();
    }

    /// <summary>The stored shape of the input (rows.input_messages).</summary>
    public static string InputMessagesJson(GeneratedRow row) =>
        JsonSerializer.Serialize(new[] { new { role = "system", content = row.Instruction }, new { role = "user", content = row.Article } });

    /// <summary>Bytes of one NDJSON line, to report the body size.</summary>
    public static int LineBytes(GeneratedRow row)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(2048);
        using var json = new Utf8JsonWriter(buffer);
        WriteLine(json, row);
        json.Flush();
        return buffer.WrittenCount + 1;
    }
}

/// <summary>An NDJSON import body written while it is sent: the client never holds the whole file.</summary>
public sealed class NdjsonImportContent(string evaluationName, IEnumerable<GeneratedRow> rows) : HttpContent
{
    public long BytesWritten { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var buffered = new BufferedStream(stream, 1 << 16);
        await using var json = new Utf8JsonWriter(buffered);
        var header = Encoding.UTF8.GetBytes(RowGenerator.Header(evaluationName) + "\n");
        await buffered.WriteAsync(header);
        BytesWritten += header.Length;
        var count = 0;
        foreach (var row in rows)
        {
            RowGenerator.WriteLine(json, row);
            await json.FlushAsync();
            BytesWritten += json.BytesCommitted + 1;
            json.Reset();
            buffered.WriteByte((byte)'\n');
            if (++count % 256 == 0) await buffered.FlushAsync();
        }
        await buffered.FlushAsync();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}

/// <summary>
/// The physical reference for the import: the same rows written with Npgsql binary COPY, in one transaction, into
/// tables created by the Annotations service's own migration (same columns, keys and indexes).
/// </summary>
public static class CopyReference
{
    public static async Task CreateSchemaAsync(string connectionString)
    {
        var script = await File.ReadAllTextAsync(Path.Combine(TestSupport.RepositoryPaths.Root, "services", "Annotations", "Migrations", "0001_initial.sql"));
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(script, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Writes one evaluation of <paramref name="count"/> rows; returns its id.</summary>
    public static async Task<Guid> CopyAsync(string connectionString, string name, int count, int seed)
    {
        var evaluationId = Guid.NewGuid();
        var metricId = RowGenerator.MetricId;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("""
            INSERT INTO evaluations (id, name, status, completed_at) VALUES (@id, @name, 'completed', now());
            INSERT INTO evaluation_metrics (evaluation_id, metric_id, metric_key, metric_type, resolution_rule)
            VALUES (@id, @metricId, 'fluency', 'quantitative', 'median');
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("id", evaluationId);
            command.Parameters.AddWithValue("name", name);
            command.Parameters.AddWithValue("metricId", metricId);
            await command.ExecuteNonQueryAsync();
        }

        // Row ids are derived from the ordinal so that every table's pass writes the same ids.
        Guid RowId(int ordinal) => new(evaluationId.ToByteArray()[..12].Concat(BitConverter.GetBytes(ordinal)).ToArray());
        var now = DateTimeOffset.UtcNow;

        await using (var rows = await connection.BeginBinaryImportAsync(
            "COPY rows (id, evaluation_id, ordinal, external_id, input_messages, output, tags) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var row in RowGenerator.Rows(count, seed))
            {
                await rows.StartRowAsync();
                await rows.WriteAsync(RowId(row.Ordinal), NpgsqlDbType.Uuid);
                await rows.WriteAsync(evaluationId, NpgsqlDbType.Uuid);
                await rows.WriteAsync(row.Ordinal, NpgsqlDbType.Integer);
                await rows.WriteAsync(row.ExternalId, NpgsqlDbType.Text);
                await rows.WriteAsync(RowGenerator.InputMessagesJson(row), NpgsqlDbType.Jsonb);
                await rows.WriteAsync(row.Output, NpgsqlDbType.Text);
                await rows.WriteAsync($$"""{"system":"{{row.System}}","batch":"{{row.Batch}}"}""", NpgsqlDbType.Jsonb);
            }
            await rows.CompleteAsync();
        }
        await using (var judge = await connection.BeginBinaryImportAsync(
            "COPY judge_scores (row_id, metric_id, score, explanation, model) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var row in RowGenerator.Rows(count, seed))
            {
                await judge.StartRowAsync();
                await judge.WriteAsync(RowId(row.Ordinal), NpgsqlDbType.Uuid);
                await judge.WriteAsync(metricId, NpgsqlDbType.Uuid);
                await judge.WriteAsync(row.JudgeScore, NpgsqlDbType.Double);
                await judge.WriteAsync(row.JudgeExplanation, NpgsqlDbType.Text);
                await judge.WriteAsync("gpt-4", NpgsqlDbType.Text);
            }
            await judge.CompleteAsync();
        }
        await using (var annotations = await connection.BeginBinaryImportAsync(
            "COPY annotations (row_id, metric_id, reviewer_id, score, comment) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var row in RowGenerator.Rows(count, seed))
                for (var i = 0; i < RowGenerator.Reviewers.Length; i++)
                {
                    await annotations.StartRowAsync();
                    await annotations.WriteAsync(RowId(row.Ordinal), NpgsqlDbType.Uuid);
                    await annotations.WriteAsync(metricId, NpgsqlDbType.Uuid);
                    await annotations.WriteAsync(RowGenerator.Reviewers[i], NpgsqlDbType.Text);
                    await annotations.WriteAsync(row.ReviewerScores[i], NpgsqlDbType.Double);
                    if (row.ReviewerComments[i] is { } comment) await annotations.WriteAsync(comment, NpgsqlDbType.Text);
                    else await annotations.WriteNullAsync();
                }
            await annotations.CompleteAsync();
        }
        await using (var resolutions = await connection.BeginBinaryImportAsync(
            "COPY resolutions (row_id, metric_id, evaluation_id, score, method, revision) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var row in RowGenerator.Rows(count, seed))
            {
                await resolutions.StartRowAsync();
                await resolutions.WriteAsync(RowId(row.Ordinal), NpgsqlDbType.Uuid);
                await resolutions.WriteAsync(metricId, NpgsqlDbType.Uuid);
                await resolutions.WriteAsync(evaluationId, NpgsqlDbType.Uuid);
                await resolutions.WriteAsync(row.ResolvedScore, NpgsqlDbType.Double);
                await resolutions.WriteAsync(row.ResolutionMethod, NpgsqlDbType.Text);
                await resolutions.WriteAsync(1, NpgsqlDbType.Integer);
            }
            await resolutions.CompleteAsync();
        }
        await using (var history = await connection.BeginBinaryImportAsync(
            "COPY resolution_history (row_id, metric_id, revision, score, method, resolved_at) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var row in RowGenerator.Rows(count, seed))
            {
                await history.StartRowAsync();
                await history.WriteAsync(RowId(row.Ordinal), NpgsqlDbType.Uuid);
                await history.WriteAsync(metricId, NpgsqlDbType.Uuid);
                await history.WriteAsync(1, NpgsqlDbType.Integer);
                await history.WriteAsync(row.ResolvedScore, NpgsqlDbType.Double);
                await history.WriteAsync(row.ResolutionMethod, NpgsqlDbType.Text);
                await history.WriteAsync(now, NpgsqlDbType.TimestampTz);
            }
            await history.CompleteAsync();
        }
        await transaction.CommitAsync();
        return evaluationId;
    }
}
