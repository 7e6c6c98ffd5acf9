namespace MetricAlignment.AuditLog.Audit;

public static class AuditEndpoints
{
    const int DefaultLimit = 100;
    const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit", (AuditTrail trail, Guid? runId, int? limit) =>
            {
                if (limit is < 1 or > MaxLimit)
                    return Results.ValidationProblem(new Dictionary<string, string[]>
                    {
                        ["limit"] = [$"limit must be between 1 and {MaxLimit}."],
                    });
                return Results.Ok(trail.List(runId, limit ?? DefaultLimit));
            })
            .WithName("ListAuditEntries")
            .WithSummary("The audit log of accepted alignment runs, newest first.")
            .Produces<IReadOnlyList<AuditEntry>>()
            .ProducesValidationProblem();
        return app;
    }
}
