using MetricAlignment.Metrics.Data;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.ServiceDefaults;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Metrics.Api;

public static class MetricEndpoints
{
    public static IEndpointRouteBuilder MapMetricEndpoints(this IEndpointRouteBuilder routes)
    {
        // Every endpoint acts for the caller's workspace: the built-ins plus that workspace's custom metrics. Another
        // workspace's metric answers 404 like an unknown one, so its existence does not leak.
        var metrics = routes.MapGroup("/api/metrics").WithTags("Metrics")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        metrics.MapGet("", ListMetrics)
            .WithName("ListMetrics")
            .WithSummary("List metrics")
            .WithDescription("The built-in metrics and the caller's workspace's custom metrics, built-in first, each by key. "
                + "Filter with ?kind=built_in or ?kind=custom.")
            .Produces<IReadOnlyList<MetricSummary>>()
            .ProducesValidationProblem();

        metrics.MapGet("/{idOrKey}", GetMetric)
            .WithName("GetMetric")
            .WithSummary("Get a metric with its current version")
            .Produces<MetricDetail>()
            .ProducesProblem(StatusCodes.Status404NotFound);

        metrics.MapGet("/{idOrKey}/versions", ListVersions)
            .WithName("ListMetricVersions")
            .WithSummary("List a metric's versions, newest first")
            .Produces<IReadOnlyList<VersionDetail>>()
            .ProducesProblem(StatusCodes.Status404NotFound);

        metrics.MapGet("/{idOrKey}/versions/{version:int}", GetVersion)
            .WithName("GetMetricVersion")
            .WithSummary("Get one version of a metric")
            .Produces<VersionDetail>()
            .ProducesProblem(StatusCodes.Status404NotFound);

        metrics.MapPost("", CreateMetric)
            .WithName("CreateMetric")
            .WithSummary("Create a custom metric")
            .WithDescription($"Creates a custom metric of the caller's workspace at version 1. Its key must not be a built-in's or "
                + "another of the workspace's metrics' keys (409). Prompts are at most {MetricRules.MaxPromptLength:N0} characters; the user prompt "
                + "template references the scored row with {{input}}, {{output}} and {{context}}.")
            .Accepts<CreateMetricRequest>("application/json")
            .Produces<MetricDetail>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(Policies.Edit);

        metrics.MapPost("/{idOrKey}/versions", PublishVersion)
            .WithName("PublishMetricVersion")
            .WithSummary("Publish a new version of a custom metric")
            .WithDescription("Built-in metrics cannot be edited (409): fork them instead. With expectedCurrentVersion, a request made "
                + "from a stale view of the metric is refused with 409 naming both versions.")
            .Accepts<PublishVersionRequest>("application/json")
            .Produces<VersionDetail>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(Policies.Edit);

        metrics.MapPost("/{idOrKey}/fork", ForkMetric)
            .WithName("ForkMetric")
            .WithSummary("Fork a metric into a new custom metric")
            .WithDescription("A built-in or one of the workspace's custom metrics can be forked into a new custom metric of the caller's "
                + "workspace; the source is left unchanged and the fork records it as its origin.")
            .Accepts<ForkMetricRequest>("application/json")
            .Produces<MetricDetail>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireAuthorization(Policies.Edit);

        return routes;
    }

    static async Task<IResult> ListMetrics(string? kind, Caller caller, MetricStore store, CancellationToken cancellationToken)
    {
        MetricKind? filter = null;
        if (kind is not null)
        {
            if (!MetricNames.TryParseKind(kind, out var parsed))
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["kind"] = ["kind is built_in or custom."] });
            filter = parsed;
        }
        var all = await store.ListAsync(caller.Workspace, filter, cancellationToken);
        return Results.Ok(all.Select(MetricSummary.From).ToList());
    }

    static async Task<IResult> GetMetric(string idOrKey, Caller caller, MetricStore store, CancellationToken cancellationToken)
    {
        var metric = await store.FindAsync(caller.Workspace, idOrKey, cancellationToken);
        if (metric is null) return MetricNotFound(idOrKey);
        var current = await store.FindVersionAsync(metric.Id, metric.CurrentVersion, cancellationToken);
        return current is null ? MetricNotFound(idOrKey) : Results.Ok(MetricDetail.From(metric, current));
    }

    static async Task<IResult> ListVersions(string idOrKey, Caller caller, MetricStore store, CancellationToken cancellationToken)
    {
        var metric = await store.FindAsync(caller.Workspace, idOrKey, cancellationToken);
        if (metric is null) return MetricNotFound(idOrKey);
        var versions = await store.ListVersionsAsync(metric.Id, cancellationToken);
        return Results.Ok(versions.Select(VersionDetail.From).ToList());
    }

    static async Task<IResult> GetVersion(string idOrKey, int version, Caller caller, MetricStore store, CancellationToken cancellationToken)
    {
        var metric = await store.FindAsync(caller.Workspace, idOrKey, cancellationToken);
        if (metric is null) return MetricNotFound(idOrKey);
        var found = await store.FindVersionAsync(metric.Id, version, cancellationToken);
        return found is null
            ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Version not found",
                detail: $"Metric '{metric.Key}' has no version {version}; its versions are 1 to {metric.CurrentVersion}.")
            : Results.Ok(VersionDetail.From(found));
    }

    static async Task<IResult> CreateMetric(CreateMetricRequest request, Caller caller, MetricChanges changes, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        MetricRules.ValidateName(request.Name, errors);
        var key = request.Key is null ? MetricRules.DeriveKey(request.Name) : request.Key.Trim();
        if (request.Key is not null) MetricRules.ValidateKey(key, errors);
        else if (key is null && !string.IsNullOrWhiteSpace(request.Name))
            errors.Add("key", "No key can be derived from this name (it has no letters or digits); give a key.");
        MetricRules.ValidateDescription(request.Description, errors);
        MetricType? type = null;
        if (MetricNames.TryParseType(request.Type, out var parsedType)) type = parsedType;
        else errors.Add("type", "type is quantitative (a numeric scale from scaleMin to scaleMax) or qualitative (a fixed set of labels).");
        if (!MetricNames.TryParseScope(request.Scope, out var scope))
            errors.Add("scope", "scope is turn (each assistant turn is judged) or conversation (the whole conversation is judged once).");
        var (scaleMin, scaleMax, labels) = MetricRules.ValidateScale(type, request.ScaleMin, request.ScaleMax, request.Labels, errors);
        MetricRules.ValidatePrompts(request.SystemPrompt, request.UserPromptTemplate, errors);
        MetricRules.ValidateAuthor(request.Author, errors);
        MetricRules.ValidateChangeNote(request.ChangeNote, errors, required: false);
        if (errors.Any) return Results.ValidationProblem(errors.ToDictionary());

        var result = await changes.CreateAsync(caller.Workspace, new NewMetricSpec(
            key!, request.Name!.Trim(), request.Description?.Trim() ?? "", type!.Value, scope, scaleMin, scaleMax, labels,
            request.SystemPrompt!, request.UserPromptTemplate!, request.Author!.Trim(),
            string.IsNullOrWhiteSpace(request.ChangeNote) ? "Initial version." : request.ChangeNote.Trim()), cancellationToken);
        return ToResult(result, applied => Results.Created($"/api/metrics/{applied.Metric.Id}", MetricDetail.From(applied.Metric, applied.Version)));
    }

    static async Task<IResult> PublishVersion(string idOrKey, PublishVersionRequest request, Caller caller, MetricChanges changes, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts(request.SystemPrompt, request.UserPromptTemplate, errors);
        MetricRules.ValidateAuthor(request.Author, errors);
        MetricRules.ValidateChangeNote(request.ChangeNote, errors, required: true);
        if (request.ExpectedCurrentVersion is < 1) errors.Add("expectedCurrentVersion", "expectedCurrentVersion is 1 or more.");
        if (errors.Any) return Results.ValidationProblem(errors.ToDictionary());

        var result = await changes.PublishVersionAsync(caller.Workspace, idOrKey,
            new NewVersionSpec(request.SystemPrompt!, request.UserPromptTemplate!,
                new VersionAuthor(VersionAuthorKind.Manual, request.Author!.Trim(), null), request.ChangeNote!.Trim()),
            request.ExpectedCurrentVersion, overrideNewerVersion: false, runId: null, cancellationToken);
        return ToResult(result, applied => Results.Created(
            $"/api/metrics/{applied.Metric.Id}/versions/{applied.Version.Version}", VersionDetail.From(applied.Version)));
    }

    static async Task<IResult> ForkMetric(string idOrKey, ForkMetricRequest request, Caller caller, MetricChanges changes, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        MetricRules.ValidateName(request.Name, errors);
        var key = request.Key?.Trim();
        MetricRules.ValidateKey(key, errors);
        if (request.Key is null && !string.IsNullOrWhiteSpace(request.Name) && MetricRules.DeriveKey(request.Name) is null)
            errors.Add("key", "No key can be derived from this name (it has no letters or digits); give a key.");
        MetricRules.ValidateDescription(request.Description, errors);
        if (request.Version is < 1) errors.Add("version", "version is 1 or more.");
        // Overrides are optional; one that is given must be a usable prompt, the other comes from the source.
        if (request.SystemPrompt is not null) MetricRules.ValidateSystemPrompt(request.SystemPrompt, errors);
        if (request.UserPromptTemplate is not null) MetricRules.ValidateUserPromptTemplate(request.UserPromptTemplate, errors);
        MetricRules.ValidateAuthor(request.Author, errors);
        MetricRules.ValidateChangeNote(request.ChangeNote, errors, required: false);
        if (errors.Any) return Results.ValidationProblem(errors.ToDictionary());

        var result = await changes.ForkAsync(caller.Workspace, idOrKey, new ForkSpec(
            request.Version, request.Name!.Trim(), key, request.Description?.Trim(), request.SystemPrompt, request.UserPromptTemplate,
            new VersionAuthor(VersionAuthorKind.Manual, request.Author!.Trim(), null), request.ChangeNote?.Trim()), runId: null, cancellationToken);
        return ToResult(result, applied => Results.Created($"/api/metrics/{applied.Metric.Id}", MetricDetail.From(applied.Metric, applied.Version)));
    }

    static IResult ToResult(ChangeResult result, Func<ChangeApplied, IResult> created) => result switch
    {
        ChangeApplied applied => created(applied),
        ChangeRefused { Reason: ChangeRefusal.MetricNotFound } refused =>
            Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Metric not found", detail: refused.Detail),
        ChangeRefused { Reason: ChangeRefusal.VersionNotFound } refused =>
            Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Version not found", detail: refused.Detail),
        ChangeRefused { Reason: ChangeRefusal.BuiltInMetric } refused =>
            Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Built-in metrics cannot be edited",
                detail: refused.Detail + $" POST /api/metrics/{refused.Metric!.Key}/fork creates an editable copy.",
                extensions: new Dictionary<string, object?> { ["metricKey"] = refused.Metric.Key }),
        ChangeRefused { Reason: ChangeRefusal.VersionConflict } refused =>
            Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The metric has a newer version", detail: refused.Detail,
                extensions: new Dictionary<string, object?>
                {
                    ["metricKey"] = refused.Metric!.Key,
                    ["currentVersion"] = refused.Metric.CurrentVersion,
                    ["expectedCurrentVersion"] = refused.ExpectedVersion,
                }),
        ChangeRefused { Reason: ChangeRefusal.DuplicateKey } refused =>
            Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Key already in use", detail: refused.Detail),
        _ => throw new InvalidOperationException($"Unhandled change result {result}."),
    };

    static IResult MetricNotFound(string idOrKey) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Metric not found", detail: $"No metric has id or key '{idOrKey}'.");
}
