using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Rows;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MetricAlignment.Annotations.Api;

public static class RowEndpoints
{
    public static IEndpointRouteBuilder MapRowEndpoints(this IEndpointRouteBuilder app)
    {
        var rows = app.MapGroup("/api/rows/{rowId:guid}").WithTags("Annotations");

        rows.MapPost("/annotations", async Task<Results<Created<AnnotationResult>, Ok<AnnotationResult>, ValidationProblem, ProblemHttpResult>> (
            Guid rowId, AnnotationRequest request, IMetricCatalog catalog, AnnotationStore store, CancellationToken ct) =>
        {
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrWhiteSpace(request.ReviewerId)) errors["reviewerId"] = ["reviewerId is required"];
            var metric = await FindMetricAsync(request.Metric, catalog, errors, ct);
            if (metric?.CheckValue(request.Score, request.Label) is { } problem) errors[request.Label is null ? "score" : "label"] = [problem];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

            var result = await store.AnnotateAsync(rowId, metric!, request.ReviewerId!.Trim(), request.Score, request.Label, request.Comment, ct);
            if (result is null) return UnknownRow(rowId);
            return result.Created
                ? TypedResults.Created($"/api/rows/{rowId}/annotations", result)
                : TypedResults.Ok(result);
        }).WithSummary("Adds the reviewer's annotation of a (row, metric), or replaces their earlier one; returns the resulting resolution.");

        rows.MapPut("/resolutions/{metric}", async Task<Results<Ok<ResolutionView>, ValidationProblem, ProblemHttpResult>> (
            Guid rowId, string metric, ResolutionRequest request, IMetricCatalog catalog, AnnotationStore store, CancellationToken ct) =>
        {
            var definition = await catalog.FindAsync(metric, ct);
            if (definition is null) return MetricQueryEndpoints.UnknownMetric(metric);
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrWhiteSpace(request.ResolvedBy)) errors["resolvedBy"] = ["resolvedBy is required"];
            if (definition.CheckValue(request.Score, request.Label) is { } problem) errors[request.Label is null ? "score" : "label"] = [problem];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

            var resolution = await store.ResolveAsync(rowId, definition, request.ResolvedBy!.Trim(), request.Score, request.Label, request.Note, ct);
            return resolution is null ? UnknownRow(rowId) : TypedResults.Ok(resolution);
        }).WithSummary("Resolves a (row, metric) by a person's decision, or revises the resolution; every revision is kept.");

        rows.MapGet("/resolutions/{metric}/history", async Task<Results<Ok<IReadOnlyList<ResolutionHistoryEntry>>, ProblemHttpResult>> (
            Guid rowId, string metric, IMetricCatalog catalog, AnnotationStore store, CancellationToken ct) =>
        {
            var definition = await catalog.FindAsync(metric, ct);
            if (definition is null) return MetricQueryEndpoints.UnknownMetric(metric);
            if (await store.FindEvaluationAsync(rowId, ct) is null) return UnknownRow(rowId);
            return TypedResults.Ok(await store.HistoryAsync(rowId, definition.Id, ct));
        }).WithSummary("Every resolution and revision of a (row, metric), oldest first.");

        return app;
    }

    static async Task<MetricDefinition?> FindMetricAsync(string? metric, IMetricCatalog catalog, Dictionary<string, string[]> errors, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(metric))
        {
            errors["metric"] = ["metric (key or id) is required"];
            return null;
        }
        var definition = await catalog.FindAsync(metric, ct);
        if (definition is null) errors["metric"] = [$"unknown metric '{metric}'"];
        return definition;
    }

    static ProblemHttpResult UnknownRow(Guid rowId) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "Unknown row", detail: $"There is no row {rowId}.");
}
