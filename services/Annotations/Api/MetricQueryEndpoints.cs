using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Rows;
using MetricAlignment.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Annotations.Api;

/// <summary>
/// What the Alignment service asks (with its service token and X-Workspace): which evaluations can teach a metric, and
/// their resolved rows. Both answer for the caller's workspace only.
/// </summary>
public static class MetricQueryEndpoints
{
    public static IEndpointRouteBuilder MapMetricQueryEndpoints(this IEndpointRouteBuilder app)
    {
        var metrics = app.MapGroup("/api/metrics/{metric}").WithTags("Alignment queries");

        metrics.MapGet("/eligible-evaluations", async Task<Results<Ok<IReadOnlyList<EligibleEvaluation>>, ProblemHttpResult>> (
            string metric, Caller caller, IMetricCatalog catalog, EvaluationStore store, CancellationToken ct) =>
        {
            var definition = await catalog.FindAsync(caller.Workspace, metric, ct);
            if (definition is null) return UnknownMetric(metric);
            return TypedResults.Ok(await store.EligibleAsync(caller.Workspace, definition.Id, ct));
        }).WithSummary("The workspace's completed evaluations with at least one resolved value for the metric.");

        metrics.MapGet("/resolved-rows", async (
            string metric, [FromQuery(Name = "evaluationId")] Guid[]? evaluationIds, Guid? after, int? limit,
            HttpContext http, Caller caller, IMetricCatalog catalog, EvaluationStore store, ResolvedRowStream stream, CancellationToken ct) =>
        {
            var definition = await catalog.FindAsync(caller.Workspace, metric, ct);
            if (definition is null) return UnknownMetric(metric);
            if (limit is < 1)
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["limit must be at least 1"] });

            IReadOnlyList<Guid> ids;
            if (evaluationIds is { Length: > 0 })
            {
                var missing = await store.FindMissingAsync(caller.Workspace, evaluationIds, ct);
                if (missing.Count > 0)
                    return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown evaluation",
                        detail: $"There is no evaluation {string.Join(", ", missing)}.",
                        extensions: new Dictionary<string, object?> { ["evaluationIds"] = missing });
                ids = evaluationIds.Distinct().ToList();
            }
            else
            {
                ids = (await store.EligibleAsync(caller.Workspace, definition.Id, ct)).Select(e => e.EvaluationId).ToList();
            }

            (Guid, int)? position = null;
            if (after is { } afterRow)
            {
                position = await stream.PositionOfAsync(caller.Workspace, afterRow, ct);
                if (position is null)
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["after"] = [$"there is no row {afterRow}"] });
            }

            await stream.WriteAsync(http.Response, definition, ids, position, limit, ct);
            return Results.Empty;
        })
        .Produces(StatusCodes.Status200OK, contentType: ResolvedRowStream.ContentType)
        .WithSummary("NDJSON, one MetricAlignment.Contracts.ResolvedRow per line, ordered by (evaluation id, ordinal). "
            + "Without evaluationId: every eligible evaluation of the workspace; an evaluationId of another workspace is unknown (404). "
            + "Page with after={last rowId}&limit=N.");

        return app;
    }

    internal static ProblemHttpResult UnknownMetric(string metric) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "Unknown metric", detail: $"The Metrics service knows no metric '{metric}'.");
}
