namespace MetricAlignment.Web.Clients;

public sealed class AlignmentClient(HttpClient http) : ApiClient(http, "Alignment")
{
    public Task<ApiResult<List<EligibleEvaluation>>> EligibleEvaluationsAsync(Guid metricId, CancellationToken cancellationToken = default) =>
        GetAsync<List<EligibleEvaluation>>($"api/metrics/{metricId}/eligible-evaluations", cancellationToken);

    public Task<ApiResult<AlignmentProviders>> ProvidersAsync(CancellationToken cancellationToken = default) =>
        GetAsync<AlignmentProviders>("api/alignment-providers", cancellationToken);

    /// <summary>A page of the metric's runs, newest first; <paramref name="before"/> (the oldest run already read) asks for older ones.</summary>
    public Task<ApiResult<List<AlignmentRun>>> HistoryAsync(Guid metricId, Guid? before = null, CancellationToken cancellationToken = default) =>
        GetAsync<List<AlignmentRun>>($"api/metrics/{metricId}/alignment-runs?limit={Logic.RunHistory.PageSize}"
            + (before is { } cursor ? $"&before={cursor}" : ""), cancellationToken);

    public Task<ApiResult<AlignmentRun>> GetAsync(Guid runId, CancellationToken cancellationToken = default) =>
        GetAsync<AlignmentRun>($"api/alignment-runs/{runId}", cancellationToken);

    public Task<ApiResult<AlignmentRun>> StartAsync(StartAlignmentRequest request, CancellationToken cancellationToken = default) =>
        PostAsync<AlignmentRun>("api/alignment-runs", request, cancellationToken);

    public Task<ApiResult<CancelOutcome>> CancelAsync(Guid runId, CancellationToken cancellationToken = default) =>
        PostAsync<CancelOutcome>($"api/alignment-runs/{runId}/cancel", null, cancellationToken);

    public Task<ApiResult<AlignmentRun>> AcceptAsync(Guid runId, AcceptAlignmentRequest request, CancellationToken cancellationToken = default) =>
        PostAsync<AlignmentRun>($"api/alignment-runs/{runId}/accept", request, cancellationToken);

    public Task<ApiResult<AlignmentRun>> DiscardAsync(Guid runId, CancellationToken cancellationToken = default) =>
        PostAsync<AlignmentRun>($"api/alignment-runs/{runId}/discard", null, cancellationToken);

    public Task<ApiResult<AlignmentRun>> RetryAsync(Guid runId, CancellationToken cancellationToken = default) =>
        PostAsync<AlignmentRun>($"api/alignment-runs/{runId}/retry", null, cancellationToken);
}
