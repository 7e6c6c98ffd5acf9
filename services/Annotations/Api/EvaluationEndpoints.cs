using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Import;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Annotations.Api;

public static class EvaluationEndpoints
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 1000;

    /// <summary>
    /// Every evaluation belongs to the caller's workspace; another workspace's answers 404 exactly as an unknown id
    /// does, so that its existence does not leak.
    /// </summary>
    public static IEndpointRouteBuilder MapEvaluationEndpoints(this IEndpointRouteBuilder app)
    {
        var evaluations = app.MapGroup("/api/evaluations").WithTags("Evaluations");

        evaluations.MapPost("/", async Task<Results<Created<EvaluationView>, ValidationProblem>> (
            CreateEvaluationRequest request, Caller caller, IMetricCatalog catalog, EvaluationStore store, CancellationToken ct) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrWhiteSpace(request.Name)) errors["name"] = ["name is required"];
            var (metrics, metricErrors) = await DeclaredMetric.ResolveAsync(caller.Workspace,
                (request.Metrics ?? []).Select(m => (m?.Metric, m?.Resolution)), catalog, ct);
            if (metricErrors.Count > 0) errors["metrics"] = metricErrors.ToArray();
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
            var evaluation = await store.CreateAsync(caller.Workspace, request.Name!.Trim(), metrics, ct);
            return TypedResults.Created($"/api/evaluations/{evaluation.Id}", evaluation);
        })
        .RequireAuthorization(Policies.Edit)
        .WithSummary("Creates an empty evaluation (status running) in the caller's workspace.");

        evaluations.MapPost("/import", ImportAsync)
            .Accepts<string>(false, "application/x-ndjson")
            // The import enforces its own, larger limit (Annotations:Import:MaxBodyBytes) instead of the API default.
            .WithMetadata(new Microsoft.AspNetCore.Mvc.DisableRequestSizeLimitAttribute())
            .RequireAuthorization(Policies.Edit)
            .WithSummary("Imports a whole evaluation from JSON Lines (docs/import-format.md) into the caller's workspace; all or nothing.");

        evaluations.MapPost("/{id:guid}/complete", async Task<Results<Ok<EvaluationView>, ProblemHttpResult>> (
            Guid id, Caller caller, EvaluationStore store, CancellationToken ct) =>
            await store.CompleteAsync(caller.Workspace, id, ct) is { } evaluation ? TypedResults.Ok(evaluation) : UnknownEvaluation(id))
            .RequireAuthorization(Policies.Edit)
            .WithSummary("Marks an evaluation completed; completing a completed evaluation changes nothing.");

        evaluations.MapGet("/", async (string? name, Caller caller, EvaluationStore store, CancellationToken ct) =>
            TypedResults.Ok(await store.ListAsync(caller.Workspace, name, ct)))
            .WithSummary("Lists the workspace's evaluations, optionally only those with exactly that name.");

        evaluations.MapGet("/{id:guid}", async Task<Results<Ok<EvaluationView>, ProblemHttpResult>> (
            Guid id, Caller caller, EvaluationStore store, CancellationToken ct) =>
            await store.GetAsync(caller.Workspace, id, ct) is { } evaluation ? TypedResults.Ok(evaluation) : UnknownEvaluation(id));

        evaluations.MapGet("/{id:guid}/rows", async Task<Results<Ok<RowPage>, ProblemHttpResult, ValidationProblem>> (
            Guid id, Guid? after, int? limit, Caller caller, EvaluationStore store, CancellationToken ct) =>
        {
            var size = limit ?? DefaultPageSize;
            if (size is < 1 or > MaxPageSize)
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxPageSize}"] });
            return await store.RowsAsync(caller.Workspace, id, after, size, ct) is { } page ? TypedResults.Ok(page) : UnknownEvaluation(id);
        }).WithSummary("A page of rows in stable order with judge scores, annotations and resolutions; pass nextAfter as after.");

        return app;
    }

    static async Task<IResult> ImportAsync(HttpContext http, Caller caller, EvaluationImporter importer, IOptions<ImportOptions> options, CancellationToken ct)
    {
        var limits = options.Value;
        var contentType = http.Request.ContentType?.Split(';')[0].Trim();
        if (contentType is not (null or "application/x-ndjson" or "application/jsonl" or "application/json-lines" or "text/plain"))
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: "Send the import as application/x-ndjson (JSON Lines).");
        if (http.Request.ContentLength > limits.MaxBodyBytes)
            return TooLarge(limits);
        // Kestrel's default limit (30 MB) is far below a large evaluation; the import has its own documented one.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = limits.MaxBodyBytes;

        var outcome = await importer.ImportAsync(caller.Workspace, http.Request.BodyReader, ct);
        if (outcome.Result is { } result)
            return TypedResults.Created($"/api/evaluations/{result.EvaluationId}",
                new ImportResponse(result.EvaluationId, result.Rows, result.Annotations, result.Resolved));

        var errors = outcome.Errors
            .GroupBy(e => e.Line)
            .ToDictionary(g => $"line {g.Key}", g => g.Select(e => e.Message).ToArray());
        var shown = outcome.Errors.Count < outcome.ErrorCount ? $" (the first {outcome.Errors.Count} are listed)" : "";
        return TypedResults.ValidationProblem(errors,
            title: "The import was rejected; nothing was stored",
            detail: $"{outcome.ErrorCount} error(s){shown}. Fix them and send the whole file again.",
            extensions: new Dictionary<string, object?>
            {
                ["errorCount"] = outcome.ErrorCount,
                ["lines"] = outcome.Errors.Select(e => e.Line).Distinct().ToArray(),
            });
    }

    static ProblemHttpResult TooLarge(ImportOptions limits) => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge, title: "The import is too large",
        detail: $"An import may be at most {limits.MaxBodyBytes} bytes; split the evaluation into several.");

    internal static ProblemHttpResult UnknownEvaluation(Guid id) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "Unknown evaluation", detail: $"There is no evaluation {id}.");
}
