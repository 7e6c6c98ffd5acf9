namespace MetricAlignment.Web.Clients;

public sealed class AnnotationsClient(HttpClient http) : ApiClient(http, "Annotations")
{
    public const int RowPageSize = 50;

    public Task<ApiResult<List<EvaluationSummary>>> ListAsync(CancellationToken cancellationToken = default) =>
        GetAsync<List<EvaluationSummary>>("api/evaluations", cancellationToken);

    public Task<ApiResult<EvaluationSummary>> GetAsync(Guid id, CancellationToken cancellationToken = default) =>
        GetAsync<EvaluationSummary>($"api/evaluations/{id}", cancellationToken);

    public Task<ApiResult<RowPage>> RowsAsync(Guid id, Guid? after, CancellationToken cancellationToken = default) =>
        GetAsync<RowPage>($"api/evaluations/{id}/rows?limit={RowPageSize}" + (after is { } a ? $"&after={a}" : ""), cancellationToken);

    public Task<ApiResult<AnnotationResult>> AnnotateAsync(Guid rowId, NewAnnotation annotation, CancellationToken cancellationToken = default) =>
        PostAsync<AnnotationResult>($"api/rows/{rowId}/annotations", annotation, cancellationToken);

    public Task<ApiResult<RowResolution>> ResolveAsync(Guid rowId, string metric, NewResolution resolution, CancellationToken cancellationToken = default) =>
        PutAsync<RowResolution>($"api/rows/{rowId}/resolutions/{Uri.EscapeDataString(metric)}", resolution, cancellationToken);
}
