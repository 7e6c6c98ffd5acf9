using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Rows;
using MetricAlignment.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;

namespace MetricAlignment.Annotations.Api;

/// <summary>Annotating and resolving rows; a row of another workspace answers 404 exactly as an unknown row does.</summary>
public static class RowEndpoints
{
    public const string ReviewerRule =
        "The annotation is recorded for the caller: reviewerId must be the caller's subject (the token's sub claim). "
        + "Naming another reviewer is refused with 403, except for an admin, who may record an annotation on a reviewer's behalf "
        + "(for instance one given on paper).";

    public static IEndpointRouteBuilder MapRowEndpoints(this IEndpointRouteBuilder app)
    {
        var rows = app.MapGroup("/api/rows/{rowId:guid}").WithTags("Annotations");

        rows.MapPost("/annotations", async Task<Results<Created<AnnotationResult>, Ok<AnnotationResult>, ValidationProblem, ProblemHttpResult>> (
            Guid rowId, AnnotationRequest request, Caller caller, IMetricCatalog catalog, AnnotationStore store, CancellationToken ct) =>
        {
            var reviewer = request.ReviewerId?.Trim();
            // Decided from the body and the token alone, before the row is looked up: the answer says nothing about the row.
            if (!string.IsNullOrEmpty(reviewer) && !MayAnnotateAs(caller, reviewer))
                return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your annotation",
                    detail: $"You are '{caller.Subject}': only an admin may record an annotation for reviewer '{reviewer}'.");

            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrEmpty(reviewer)) errors["reviewerId"] = ["reviewerId is required"];
            var metric = await FindMetricAsync(caller.Workspace, request.Metric, catalog, errors, ct);
            if (metric?.CheckValue(request.Score, request.Label) is { } problem) errors[request.Label is null ? "score" : "label"] = [problem];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

            var result = await store.AnnotateAsync(caller.Workspace, rowId, metric!, reviewer!, request.Score, request.Label, request.Comment, ct);
            if (result is null) return UnknownRow(rowId);
            return result.Created
                ? TypedResults.Created($"/api/rows/{rowId}/annotations", result)
                : TypedResults.Ok(result);
        })
        .RequireAuthorization(Policies.Annotate)
        .WithSummary("Adds the reviewer's annotation of a (row, metric), or replaces their earlier one; returns the resulting resolution.")
        .WithDescription(ReviewerRule);

        rows.MapPut("/resolutions/{metric}", async Task<Results<Ok<ResolutionView>, ValidationProblem, ProblemHttpResult>> (
            Guid rowId, string metric, ResolutionRequest request, Caller caller, IMetricCatalog catalog, AnnotationStore store, CancellationToken ct) =>
        {
            var definition = await catalog.FindAsync(caller.Workspace, metric, ct);
            if (definition is null) return MetricQueryEndpoints.UnknownMetric(metric);
            var errors = new Dictionary<string, string[]>();
            if (string.IsNullOrWhiteSpace(request.ResolvedBy)) errors["resolvedBy"] = ["resolvedBy is required"];
            if (definition.CheckValue(request.Score, request.Label) is { } problem) errors[request.Label is null ? "score" : "label"] = [problem];
            if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

            var resolution = await store.ResolveAsync(caller.Workspace, rowId, definition, request.ResolvedBy!.Trim(), request.Score, request.Label, request.Note, ct);
            return resolution is null ? UnknownRow(rowId) : TypedResults.Ok(resolution);
        })
        .RequireAuthorization(Policies.Resolve)
        .WithSummary("Resolves a (row, metric) by a person's decision, or revises the resolution; every revision is kept.")
        .WithDescription("Only an admin resolves; resolvedBy records who decided, which may be the admin or the lead they speak for.");

        rows.MapGet("/resolutions/{metric}/history", async Task<Results<Ok<IReadOnlyList<ResolutionHistoryEntry>>, ProblemHttpResult>> (
            Guid rowId, string metric, Caller caller, IMetricCatalog catalog, AnnotationStore store, CancellationToken ct) =>
        {
            var definition = await catalog.FindAsync(caller.Workspace, metric, ct);
            if (definition is null) return MetricQueryEndpoints.UnknownMetric(metric);
            if (await store.FindEvaluationAsync(caller.Workspace, rowId, ct) is null) return UnknownRow(rowId);
            return TypedResults.Ok(await store.HistoryAsync(rowId, definition.Id, ct));
        }).WithSummary("Every resolution and revision of a (row, metric), oldest first.");

        return app;
    }

    internal static bool MayAnnotateAs(Caller caller, string reviewerId) =>
        string.Equals(reviewerId, caller.Subject, StringComparison.Ordinal) || caller.Roles.Contains(Roles.Admin);

    static async Task<MetricDefinition?> FindMetricAsync(string workspace, string? metric, IMetricCatalog catalog,
        Dictionary<string, string[]> errors, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(metric))
        {
            errors["metric"] = ["metric (key or id) is required"];
            return null;
        }
        var definition = await catalog.FindAsync(workspace, metric, ct);
        if (definition is null) errors["metric"] = [$"unknown metric '{metric}'"];
        return definition;
    }

    static ProblemHttpResult UnknownRow(Guid rowId) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "Unknown row", detail: $"There is no row {rowId}.");
}
