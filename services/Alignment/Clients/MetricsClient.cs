using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.Clients;

/// <summary>A metric as the Metrics service describes it (GET /api/metrics/{id}).</summary>
public sealed record MetricInfo
{
    public required Guid Id { get; init; }
    public required string Key { get; init; }
    public required string Name { get; init; }
    /// <summary>built_in or custom.</summary>
    public required string Kind { get; init; }
    /// <summary>quantitative or qualitative.</summary>
    public required string Type { get; init; }
    public double? ScaleMin { get; init; }
    public double? ScaleMax { get; init; }
    public IReadOnlyList<string>? Labels { get; init; }
    public required int CurrentVersion { get; init; }
    public required MetricVersionInfo Current { get; init; }

    public bool IsQuantitative => string.Equals(Type, "quantitative", StringComparison.OrdinalIgnoreCase);

    public MetricDefinition ToDefinition() => new()
    {
        Id = Id, Key = Key, Name = Name,
        Type = IsQuantitative ? MetricType.Quantitative : MetricType.Qualitative,
        ScaleMin = ScaleMin, ScaleMax = ScaleMax, Labels = Labels ?? [],
        Version = Current.Version, SystemPrompt = Current.SystemPrompt, UserPromptTemplate = Current.UserPromptTemplate,
    };
}

public sealed record MetricVersionInfo
{
    public required int Version { get; init; }
    public required string SystemPrompt { get; init; }
    public required string UserPromptTemplate { get; init; }
}

/// <summary>
/// The Metrics service, asked on behalf of a workspace: every call names it (X-Workspace), so that a service token reads
/// that workspace's metrics and nothing else; another workspace's metric answers as unknown.
/// </summary>
public interface IMetricsClient
{
    /// <summary>The metric, or null when the Metrics service does not know it in <paramref name="workspace"/>.</summary>
    Task<MetricInfo?> GetMetricAsync(string workspace, Guid metricId, CancellationToken cancellationToken);
}

public sealed class MetricsClient(HttpClient http) : IMetricsClient
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<MetricInfo?> GetMetricAsync(string workspace, Guid metricId, CancellationToken cancellationToken)
    {
        using var request = WorkspaceRequest.Get($"api/metrics/{metricId}", workspace);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode)
            throw new DependencyFailedException($"The Metrics service answered {(int)response.StatusCode} {response.ReasonPhrase} when asked for metric {metricId}.");
        return await response.Content.ReadFromJsonAsync<MetricInfo>(Json, cancellationToken)
            ?? throw new DependencyFailedException($"The Metrics service returned an empty body for metric {metricId}.");
    }
}

/// <summary>A request to another platform service on behalf of a workspace.</summary>
static class WorkspaceRequest
{
    public static HttpRequestMessage Get(string uri, string workspace)
    {
        if (!Caller.IsValidWorkspace(workspace))
            throw new ArgumentException($"'{workspace}' is not a workspace.", nameof(workspace));
        var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Add(Caller.WorkspaceHeader, workspace);
        return request;
    }
}

/// <summary>Another service answered with an error; the message says which and what for, for people reading a run's error.</summary>
public sealed class DependencyFailedException(string message, Exception? inner = null) : Exception(message, inner);
