using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Clients;

/// <summary>An evaluation that may feed an alignment run of a metric (GET /api/metrics/{id}/eligible-evaluations).</summary>
public sealed record EligibleEvaluation
{
    public required Guid EvaluationId { get; init; }
    public required string Name { get; init; }
    public required string Status { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public int RowCount { get; init; }
    public int ResolvedRowCount { get; init; }
}

/// <summary>
/// The Annotations service, asked on behalf of a workspace (X-Workspace on every call): evaluations of other workspaces
/// are neither listed nor streamed.
/// </summary>
public interface IAnnotationsClient
{
    Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken);

    /// <summary>The resolved rows of the evaluations for the metric, one at a time as they arrive.</summary>
    IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds, CancellationToken cancellationToken);
}

public sealed class AnnotationsClient(HttpClient http) : IAnnotationsClient
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken)
    {
        using var request = WorkspaceRequest.Get($"api/metrics/{metricId}/eligible-evaluations", workspace);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return [];
        if (!response.IsSuccessStatusCode)
            throw new DependencyFailedException($"The Annotations service answered {(int)response.StatusCode} {response.ReasonPhrase} when asked for the evaluations eligible for metric {metricId}.");
        return await response.Content.ReadFromJsonAsync<List<EligibleEvaluation>>(Json, cancellationToken) ?? [];
    }

    public async IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var query = string.Join("&", evaluationIds.Select(id => $"evaluationId={id}"));
        using var request = WorkspaceRequest.Get($"api/metrics/{metricId}/resolved-rows?{query}", workspace);
        request.Headers.Accept.ParseAdd("application/x-ndjson");
        // Headers only: the body is read line by line, so memory does not grow with the number of rows. The standard
        // resilience handler's timeouts (30 s total) end with the headers, so a long stream is bounded by the run's
        // cancellation alone (AnnotationsClientTests reads a stream that outlasts both timeouts).
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new DependencyFailedException($"The Annotations service answered {(int)response.StatusCode} {response.ReasonPhrase} when asked for the resolved rows of metric {metricId}.");
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var reader = PipeReader.Create(stream);
        try
        {
            var lineNumber = 0;
            while (true)
            {
                var read = await reader.ReadAsync(cancellationToken);
                var buffer = read.Buffer;
                // Lines are parsed from the UTF-8 bytes where they lie: no string per line.
                while (TryReadLine(ref buffer, out var line))
                {
                    lineNumber++;
                    if (Parse(line, lineNumber, metricId) is { } row) yield return row;
                }
                if (read.IsCompleted)
                {
                    if (!buffer.IsEmpty && Parse(buffer, ++lineNumber, metricId) is { } last) yield return last;
                    reader.AdvanceTo(buffer.End);
                    break;
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        if (buffer.PositionOf((byte)'\n') is not { } end)
        {
            line = default;
            return false;
        }
        line = buffer.Slice(0, end);
        buffer = buffer.Slice(buffer.GetPosition(1, end));
        return true;
    }

    static ResolvedRow? Parse(ReadOnlySequence<byte> line, int lineNumber, Guid metricId)
    {
        if (IsBlank(line)) return null;
        try
        {
            var json = new Utf8JsonReader(line);
            return JsonSerializer.Deserialize<ResolvedRow>(ref json, Json);
        }
        catch (JsonException e)
        {
            throw new DependencyFailedException($"Line {lineNumber} of the resolved rows of metric {metricId} is not a valid row: {e.Message}", e);
        }
    }

    static bool IsBlank(ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
            foreach (var b in segment.Span)
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }
}
