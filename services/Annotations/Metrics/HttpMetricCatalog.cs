using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MetricAlignment.ServiceDefaults;
using Microsoft.Extensions.Caching.Memory;

namespace MetricAlignment.Annotations.Metrics;

/// <summary>
/// Asks the Metrics service (GET /api/metrics, GET /api/metrics/{idOrKey}) for one workspace, named in X-Workspace (the
/// bearer token is the caller's, forwarded, or this service's own; see AddPlatformServiceAuthentication). Answers are
/// cached briefly, per workspace since custom metric keys are: an import validates thousands of values against a
/// handful of metrics, and a metric's scale rarely changes.
/// </summary>
public sealed class HttpMetricCatalog(HttpClient http, IMemoryCache cache) : IMetricCatalog
{
    static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<MetricDefinition?> FindAsync(string workspace, string idOrKey, CancellationToken cancellationToken)
    {
        var all = await cache.GetOrCreateAsync(("metric-catalog:list", workspace), async entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = CacheFor;
            return await ListAsync(workspace, cancellationToken);
        }) ?? [];
        var known = all.FirstOrDefault(m => m.Matches(idOrKey));
        if (known is not null) return known;

        // A metric created since the list was cached, or one the list does not include (an older version).
        return await cache.GetOrCreateAsync(("metric-catalog:one", workspace, idOrKey), async entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = CacheFor;
            return await GetAsync(workspace, idOrKey, cancellationToken);
        });
    }

    async Task<IReadOnlyList<MetricDefinition>> ListAsync(string workspace, CancellationToken cancellationToken)
    {
        var documents = await SendAsync<List<MetricDocument>>(workspace, "api/metrics", cancellationToken);
        return documents?.Select(d => d.ToDefinition()).ToList() ?? [];
    }

    async Task<MetricDefinition?> GetAsync(string workspace, string idOrKey, CancellationToken cancellationToken) =>
        (await SendAsync<MetricDocument>(workspace, "api/metrics/" + Uri.EscapeDataString(idOrKey), cancellationToken))?.ToDefinition();

    async Task<T?> SendAsync<T>(string workspace, string path, CancellationToken cancellationToken) where T : class
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        // A forwarded person's token names its own workspace; a service token needs to be told.
        request.Headers.Add(Caller.WorkspaceHeader, workspace);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        // Polly's rejections (attempt or total timeout, open circuit) mean the same as no answer.
        catch (Exception e) when (e is HttpRequestException or Polly.ExecutionRejectedException
                                  || e is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new MetricCatalogUnavailableException("The Metrics service did not answer.", e);
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound) return null;
            if (!response.IsSuccessStatusCode)
                throw new MetricCatalogUnavailableException($"The Metrics service answered {(int)response.StatusCode} to GET {path}.");
            return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken);
        }
    }

    sealed record MetricDocument
    {
        public Guid Id { get; init; }
        public string Key { get; init; } = "";
        public string? Type { get; init; }
        public double? ScaleMin { get; init; }
        public double? ScaleMax { get; init; }
        public JsonElement Labels { get; init; }

        public MetricDefinition ToDefinition() => new()
        {
            Id = Id,
            Key = Key,
            Type = string.Equals(Type, "qualitative", StringComparison.OrdinalIgnoreCase) ? MetricType.Qualitative : MetricType.Quantitative,
            ScaleMin = ScaleMin,
            ScaleMax = ScaleMax,
            Labels = ReadLabels(Labels),
        };

        // Labels may come as plain strings or as objects describing each label; the value is what reviewers give.
        static IReadOnlyList<string> ReadLabels(JsonElement labels)
        {
            if (labels.ValueKind != JsonValueKind.Array) return [];
            var result = new List<string>();
            foreach (var label in labels.EnumerateArray())
            {
                if (label.ValueKind == JsonValueKind.String) result.Add(label.GetString()!);
                else if (label.ValueKind == JsonValueKind.Object)
                {
                    foreach (var name in (string[])["value", "key", "label", "name"])
                        if (label.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                        {
                            result.Add(value.GetString()!);
                            break;
                        }
                }
            }
            return result;
        }
    }
}
