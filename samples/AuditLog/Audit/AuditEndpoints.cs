using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.AuditLog.Audit;

public static class AuditEndpoints
{
    const int DefaultLimit = 100;
    const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        // The fallback policy (Read) already requires a token naming a workspace; the caller then sees that workspace's
        // entries only, so another workspace's run id answers an empty list, exactly like an unknown one.
        app.MapGet("/api/audit", (AuditTrail trail, Caller caller, Guid? runId, int? limit) =>
            {
                if (limit is < 1 or > MaxLimit)
                    return Results.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["limit"] = [$"limit must be between 1 and {MaxLimit}."],
                    });
                return Results.Ok(trail.List(caller.Workspace, runId, limit ?? DefaultLimit));
            })
            .WithName("ListAuditEntries")
            .WithSummary("The audit log of accepted alignment runs in the caller's workspace, newest first.")
            .Produces<IReadOnlyList<AuditEntry>>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
        return app;
    }
}
