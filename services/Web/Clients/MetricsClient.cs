namespace MetricAlignment.Web.Clients;

public sealed class MetricsClient(HttpClient http) : ApiClient(http, "Metrics")
{
    public Task<ApiResult<List<MetricSummary>>> ListAsync(CancellationToken cancellationToken = default) =>
        GetAsync<List<MetricSummary>>("api/metrics", cancellationToken);

    public Task<ApiResult<MetricDetail>> GetAsync(string idOrKey, CancellationToken cancellationToken = default) =>
        GetAsync<MetricDetail>($"api/metrics/{Uri.EscapeDataString(idOrKey)}", cancellationToken);

    public Task<ApiResult<List<MetricVersion>>> VersionsAsync(string idOrKey, CancellationToken cancellationToken = default) =>
        GetAsync<List<MetricVersion>>($"api/metrics/{Uri.EscapeDataString(idOrKey)}/versions", cancellationToken);
}
