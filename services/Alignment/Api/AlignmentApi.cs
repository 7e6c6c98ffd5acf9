using MassTransit;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using Npgsql;

namespace MetricAlignment.Alignment.Api;

public static class AlignmentApi
{
    public const int DefaultHistoryPageSize = 50;
    public const int MaxHistoryPageSize = 200;
    /// <summary>Evaluations one run may name; the ids travel to Annotations in a query string, which servers cap at 8 KB.</summary>
    public const string MaxEvaluationIdsKey = "Alignment:MaxEvaluationIdsPerRun";
    public const int DefaultMaxEvaluationIds = 100;

    /// <summary>
    /// Every endpoint acts in the caller's workspace: a run, metric or evaluation of another workspace answers as if it
    /// did not exist. Reads need any role (the fallback policy); changing a run needs <see cref="Policies.Edit"/>.
    /// </summary>
    public static IEndpointRouteBuilder MapAlignmentRunEndpoints(this IEndpointRouteBuilder app)
    {
        // One cache per application (not static): it mirrors this application's database. Null when switched off
        // (Alignment:ResponseCache:Enabled=false), which reads and serialises every run on every request as before.
        var configuration = app.ServiceProvider.GetRequiredService<IConfiguration>();
        var cache = configuration.GetValue(RunResponseCache.EnabledKey, true)
            ? new RunResponseCache(
                app.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions,
                configuration.GetValue(RunResponseCache.MaxBytesKey, RunResponseCache.DefaultMaxBytes))
            : null;

        var runs = app.MapGroup("/api/alignment-runs").WithTags("Alignment runs");
        runs.MapPost("/", StartAsync).WithName("StartAlignmentRun").RequireAuthorization(Policies.Edit)
            .Produces<AlignmentRunResponse>(StatusCodes.Status202Accepted).ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        runs.MapGet("/{id:guid}", (Guid id, Caller caller, NpgsqlDataSource dataSource, CancellationToken cancellationToken) =>
                GetAsync(id, caller, dataSource, cache, cancellationToken))
            .WithName("GetAlignmentRun").Produces<AlignmentRunResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        runs.MapPost("/{id:guid}/cancel", CancelAsync).WithName("CancelAlignmentRun").RequireAuthorization(Policies.Edit);
        runs.MapPost("/{id:guid}/accept", AcceptAsync).WithName("AcceptAlignmentRun").RequireAuthorization(Policies.Edit);
        runs.MapPost("/{id:guid}/discard", DiscardAsync).WithName("DiscardAlignmentRun").RequireAuthorization(Policies.Edit);
        runs.MapPost("/{id:guid}/retry", RetryAsync).WithName("RetryAlignmentRun").RequireAuthorization(Policies.Edit);

        var metrics = app.MapGroup("/api/metrics/{metricId:guid}").WithTags("Alignment runs");
        metrics.MapGet("/alignment-runs", (Guid metricId, Caller caller, HttpContext http, NpgsqlDataSource dataSource, IMetricsClient metricsClient,
                CancellationToken cancellationToken) => HistoryAsync(metricId, caller, http, dataSource, metricsClient, cache, cancellationToken))
            .WithName("ListAlignmentRuns").Produces<IReadOnlyList<AlignmentRunSummary>>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);
        metrics.MapGet("/eligible-evaluations", EligibleAsync).WithName("ListEligibleEvaluations");
        return app;
    }

    /// <summary>
    /// Starts a run. With an Idempotency-Key header, a repeat of the same request in the same workspace (within the
    /// retention, Alignment:Api:IdempotencyKeyRetention) answers the run of the first one instead of starting another:
    /// 202 with its Location and Idempotent-Replayed: true. The same key with another body is 422, and a key whose first
    /// request is still being processed is 409. A request takes its key with a lease on the key's row
    /// (Alignment:Api:IdempotencyKeyLease) and holds no database connection while it validates and waits for the saga; a
    /// process that dies leaves a lease that runs out. The key is stored with the run id before the start is sent, so a
    /// retry after a failure or a crash at any point sends the start again under the same run id, which the saga applies
    /// once. A refused request releases the key unbound, so the corrected request may use it.
    /// An instance works on at most Alignment:Api:MaxConcurrentStarts starts at once; the others wait in order, and beyond
    /// Alignment:Api:MaxQueuedStarts waiting a start is refused with 503 and Retry-After (<see cref="StartAdmission"/>).
    /// </summary>
    static async Task<IResult> StartAsync(StartAlignmentRunRequest? request, HttpContext http, Caller caller, IMetricsClient metrics,
        IAnnotationsClient annotations, ProviderCatalog catalog, IRequestClient<StartAlignmentRun> start, NpgsqlDataSource dataSource,
        IConfiguration configuration, StartAdmission admission, CancellationToken cancellationToken)
    {
        var (key, keyError) = IdempotencyKey.Read(http.Request.Headers);
        if (keyError is not null)
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid Idempotency-Key", detail: keyError);
        if (request is null)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["A JSON body is required."] });
        // Before the key is taken: a start waiting its turn holds no lease and no connection.
        using var admitted = await admission.EnterAsync(cancellationToken);
        if (!admitted.IsAcquired) return StartsQueueFull(http, admission);
        if (key is null)
            return await CreateRunAsync(request, NewId.NextGuid(), reserve: null, caller, metrics, annotations, catalog, start, dataSource,
                configuration, cancellationToken);

        var retention = IdempotencyKeys.Retention(configuration);
        var fingerprint = IdempotencyKey.Fingerprint(request);
        var (claim, entry) = await IdempotencyKeys.ClaimAsync(dataSource, caller.Workspace, key, NewId.NextGuid(),
            IdempotencyKeys.Lease(configuration), retention, cancellationToken);
        await using var held = claim;
        if (held is null && entry.InProgress) return KeyInProgress(http, key);
        if (entry.RequestHash is not null && entry.RequestHash != fingerprint)
            return Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused for another request",
                detail: $"Idempotency-Key '{key}' was already used with a different request body (for run {entry.RunId}). "
                        + "Use a new key for a new request, or repeat the first request unchanged.",
                extensions: new Dictionary<string, object?> { ["idempotencyKey"] = key, ["runId"] = entry.RunId });
        if (entry.RequestHash is not null && await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, entry.RunId, cancellationToken) is { } run)
        {
            held?.MarkStarted();
            http.Response.Headers[IdempotencyKey.ReplayedHeaderName] = "true";
            return Results.Accepted($"/api/alignment-runs/{run.CorrelationId}", AlignmentRunResponse.From(run));
        }
        if (held is null)
            throw new InvalidOperationException($"Alignment run {entry.RunId} of Idempotency-Key '{key}' was acknowledged but cannot be read.");

        // Either the first request with this key, or one that reserved its run id and failed before the run existed (its
        // start may still be on its way): the same run id either way, so the saga makes one run of however many starts.
        try
        {
            var result = await CreateRunAsync(request, held.RunId, _ => held.ReserveAsync(fingerprint, retention, cancellationToken),
                caller, metrics, annotations, catalog, start, dataSource, configuration, cancellationToken);
            if (result is IStatusCodeHttpResult { StatusCode: StatusCodes.Status202Accepted }) held.MarkStarted();
            return result;
        }
        catch (IdempotencyKeys.LeaseLostException)
        {
            // This request outlived its lease while validating and a repeat took the key over: that one answers for it.
            return KeyInProgress(http, key);
        }
    }

    static IResult KeyInProgress(HttpContext http, string key)
    {
        http.Response.Headers.RetryAfter = "1";
        return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "A request with this Idempotency-Key is in progress",
            detail: $"An earlier request with Idempotency-Key '{key}' is still being processed. Send it again once that one has been answered.",
            extensions: new Dictionary<string, object?> { ["idempotencyKey"] = key });
    }

    static IResult StartsQueueFull(HttpContext http, StartAdmission admission)
    {
        http.Response.Headers.RetryAfter = "2";
        return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Too many starts waiting",
            detail: $"This instance is working on {admission.MaxConcurrent} starts with {admission.MaxQueued} more waiting, the most it queues "
                    + $"({StartAdmission.MaxQueuedKey}). Nothing was started: send the request again after Retry-After, with the same "
                    + "Idempotency-Key if it had one.");
    }

    /// <summary>
    /// Validates the request and starts run <paramref name="runId"/>. <paramref name="reserve"/> runs once the request is
    /// valid and before the start is sent: a refused request reserves nothing. No database connection is held across the
    /// validation calls or the wait for the saga's acknowledgement.
    /// </summary>
    static async Task<IResult> CreateRunAsync(StartAlignmentRunRequest request, Guid runId, Func<Guid, Task>? reserve, Caller caller,
        IMetricsClient metrics, IAnnotationsClient annotations, ProviderCatalog catalog, IRequestClient<StartAlignmentRun> start,
        NpgsqlDataSource dataSource, IConfiguration configuration, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.MetricId is null || request.MetricId == Guid.Empty) errors["metricId"] = ["Choose the metric to align."];
        var evaluationIds = request.EvaluationIds ?? [];
        if (evaluationIds.Count == 0) errors["evaluationIds"] = ["Choose at least one completed evaluation."];
        else if (evaluationIds.Count > configuration.GetValue(MaxEvaluationIdsKey, DefaultMaxEvaluationIds))
            errors["evaluationIds"] = [$"A run may align at most {configuration.GetValue(MaxEvaluationIdsKey, DefaultMaxEvaluationIds)} evaluations; "
                + $"{evaluationIds.Count} were given. Split them into several runs."];
        else if (evaluationIds.Distinct().Count() != evaluationIds.Count) errors["evaluationIds"] = ["An evaluation is listed more than once."];
        // Blank provider means the platform default (Alignment:DefaultProvider); the resolved names are stored on the run.
        var (reflection, reflectionError) = catalog.Select(request.ReflectionProvider, request.ReflectionModel, "reflectionProvider", "reflectionModel");
        if (reflectionError is not null) errors[reflectionError.Field] = [reflectionError.Message];
        ProviderSelection? judge = null;
        if (!string.IsNullOrWhiteSpace(request.JudgeModel) || !string.IsNullOrWhiteSpace(request.JudgeProvider))
        {
            var judgeProvider = string.IsNullOrWhiteSpace(request.JudgeProvider) ? catalog.DefaultProvider : request.JudgeProvider.Trim();
            if (string.Equals(judgeProvider, ProviderCatalog.BuiltIn, StringComparison.OrdinalIgnoreCase))
            {
                errors["judgeProvider"] = [$"The '{ProviderCatalog.BuiltIn}' provider is the deterministic distiller and cannot score rows; "
                    + "choose an LLM provider as judge, or leave the judge model empty to skip verification."];
            }
            else
            {
                var (selection, judgeError) = catalog.Select(judgeProvider, request.JudgeModel, "judgeProvider", "judgeModel");
                if (judgeError is not null) errors[judgeError.Field] = [judgeError.Message];
                judge = selection;
            }
        }
        if (errors.Count > 0) return Results.ValidationProblem(errors);

        var metricId = request.MetricId!.Value;
        var metric = await metrics.GetMetricAsync(caller.Workspace, metricId, cancellationToken);
        if (metric is null) return UnknownMetric(metricId);

        // Only the caller's workspace's evaluations are listed, so another workspace's id is refused like an unknown one.
        var eligible = (await annotations.GetEligibleEvaluationsAsync(caller.Workspace, metricId, cancellationToken)).ToDictionary(e => e.EvaluationId);
        var evaluationErrors = new List<string>();
        foreach (var id in evaluationIds)
        {
            if (!eligible.TryGetValue(id, out var evaluation))
                evaluationErrors.Add($"Evaluation {id} does not exist or has no annotations for metric '{metric.Key}'.");
            else if (!string.Equals(evaluation.Status, "completed", StringComparison.OrdinalIgnoreCase))
                evaluationErrors.Add($"Evaluation {id} ('{evaluation.Name}') is {evaluation.Status}, not completed.");
            else if (evaluation.ResolvedRowCount <= 0)
                evaluationErrors.Add($"Evaluation {id} ('{evaluation.Name}') has no resolved annotations for metric '{metric.Key}'.");
        }
        if (evaluationErrors.Count > 0) errors["evaluationIds"] = evaluationErrors.ToArray();

        double? threshold = null;
        if (metric.IsQuantitative)
        {
            if (metric.ScaleMin is not { } min || metric.ScaleMax is not { } max || max <= min)
            {
                errors["metricId"] = [$"Metric '{metric.Key}' has no usable scale, so disagreements cannot be measured."];
            }
            else
            {
                var range = max - min;
                threshold = request.DeltaThreshold ?? DefaultThreshold(range);
                if (double.IsNaN(threshold.Value) || threshold <= 0 || threshold > range)
                    errors["deltaThreshold"] = [$"The delta threshold must be greater than 0 and at most {range} (the scale runs from {min} to {max})."];
            }
        }
        if (errors.Count > 0) return Results.ValidationProblem(errors);

        System.Diagnostics.Activity.Current?.SetTag(Telemetry.Tags.RunId, runId).SetTag(Telemetry.Tags.Workspace, caller.Workspace);
        if (reserve is not null) await reserve(runId);
        try
        {
            await start.RequestAsync<StartAlignmentRun, AlignmentRunStartAcknowledged>(new StartAlignmentRun
            {
                RunId = runId, Workspace = caller.Workspace, MetricId = metric.Id, MetricKey = metric.Key, MetricName = metric.Name, MetricKind = metric.Kind,
                MetricType = metric.Type, MetricVersion = metric.CurrentVersion, EvaluationIds = evaluationIds.ToList(),
                ReflectionProvider = reflection!.Provider, ReflectionModel = reflection.Model, JudgeProvider = judge?.Provider,
                JudgeModel = judge?.Model, DeltaThreshold = threshold, RequestedAt = DateTimeOffset.UtcNow,
            }, runId, "start", BusCalls.BusTimeout(configuration), cancellationToken);
        }
        catch (BrokerUnavailableException)
        {
            // The saga may have created the run and only its acknowledgement was late: then the start did happen.
            if (await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, runId, cancellationToken) is null) throw;
        }
        var run = await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, runId, cancellationToken)
            ?? throw new InvalidOperationException($"Alignment run {runId} was acknowledged but cannot be read.");
        return Results.Accepted($"/api/alignment-runs/{runId}", AlignmentRunResponse.From(run));
    }

    /// <summary>A gap of one point on scales of two points or more; half the range on narrower scales (such as 0..1).</summary>
    public static double DefaultThreshold(double range) => range >= 2 ? 1 : range / 2;

    static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    static async Task<IResult> GetAsync(Guid id, Caller caller, NpgsqlDataSource dataSource, RunResponseCache? cache,
        CancellationToken cancellationToken)
    {
        if (cache is not null) return await cache.GetRunAsync(dataSource, caller.Workspace, id, cancellationToken) ?? NotFound(id);
        var run = await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, id, cancellationToken);
        return run is null ? NotFound(id) : Results.Ok(AlignmentRunResponse.From(run));
    }

    /// <summary>
    /// A page of run summaries, newest first. The next page is asked for with ?before= the last run's id (also given in
    /// a Link rel="next" header when the page is full).
    /// </summary>
    static async Task<IResult> HistoryAsync(Guid metricId, Caller caller, HttpContext http, NpgsqlDataSource dataSource, IMetricsClient metricsClient,
        RunResponseCache? cache, CancellationToken cancellationToken)
    {
        var query = http.Request.Query;
        var errors = new Dictionary<string, string[]>();
        var limit = DefaultHistoryPageSize;
        if (query.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit)
                || limit < 1 || limit > MaxHistoryPageSize))
            errors["limit"] = [$"The page size must be a whole number from 1 to {MaxHistoryPageSize}."];
        Guid? before = null;
        if (query.TryGetValue("before", out var beforeText))
        {
            if (Guid.TryParse(beforeText, out var cursor)) before = cursor;
            else errors["before"] = ["The cursor must be the id of the last run of the previous page."];
        }
        if (errors.Count > 0) return Results.ValidationProblem(errors);

        if (cache is null)
        {
            var runs = await AlignmentRunStore.ListSummariesByMetricAsync(dataSource, caller.Workspace, metricId, limit, before, cancellationToken);
            if (runs is null)
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["before"] = [$"Run {before} is not a run of metric {metricId}."] });
            if (runs.Count == 0 && before is null && !await MetricVisibleAsync(metricsClient, caller, metricId, cancellationToken))
                return UnknownMetric(metricId);
            if (runs.Count == limit)
                http.Response.Headers.Link = $"</api/metrics/{metricId}/alignment-runs?limit={limit}&before={runs[^1].Run.CorrelationId}>; rel=\"next\"";
            return Results.Ok(runs.Select(r => AlignmentRunSummary.From(r.Run, r.GuidelineCount)));
        }
        var page = await cache.GetHistoryAsync(dataSource, caller.Workspace, metricId, limit, before, cancellationToken);
        if (page is not { } found)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["before"] = [$"Run {before} is not a run of metric {metricId}."] });
        var (result, lastId, count) = found;
        if (count == 0 && before is null && !await MetricVisibleAsync(metricsClient, caller, metricId, cancellationToken))
            return UnknownMetric(metricId);
        if (count == limit)
            http.Response.Headers.Link = $"</api/metrics/{metricId}/alignment-runs?limit={limit}&before={lastId}>; rel=\"next\"";
        return result;
    }

    static async Task<IResult> EligibleAsync(Guid metricId, Caller caller, IMetricsClient metrics, IAnnotationsClient annotations,
        CancellationToken cancellationToken)
    {
        if (await metrics.GetMetricAsync(caller.Workspace, metricId, cancellationToken) is null) return UnknownMetric(metricId);
        return Results.Ok(await annotations.GetEligibleEvaluationsAsync(caller.Workspace, metricId, cancellationToken));
    }

    static async Task<IResult> CancelAsync(Guid id, Caller caller, NpgsqlDataSource dataSource, IPublishEndpoint publisher, IConfiguration configuration,
        CancellationToken cancellationToken)
    {
        var run = await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, id, cancellationToken);
        if (run is null) return NotFound(id);
        var status = AlignmentRunResponse.StatusOf(run.CurrentState);
        if (run.CurrentState is not ("Pending" or "Running"))
            return Results.Ok(new CancelResult(false, status, $"The run is {status}; only a pending or running run can be cancelled, so nothing changed."));
        using var trace = ContinueRunTrace(run, "alignment.cancel");
        await publisher.PublishAsync(new CancelAlignmentRun { RunId = id, Workspace = run.Workspace, Reason = "cancelled by request", RequestedAt = DateTimeOffset.UtcNow },
            id, "cancellation", BusCalls.BusTimeout(configuration), cancellationToken);
        return Results.Accepted($"/api/alignment-runs/{id}", new CancelResult(true, status, null));
    }

    static async Task<IResult> AcceptAsync(Guid id, AcceptAlignmentRunRequest? request, Caller caller, NpgsqlDataSource dataSource, IMetricsClient metrics,
        IPublishEndpoint publisher, IConfiguration configuration, CancellationToken cancellationToken)
    {
        request ??= new AcceptAlignmentRunRequest();
        var run = await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, id, cancellationToken);
        if (run is null) return NotFound(id);
        if (Undecidable(run) is { } conflict) return conflict;
        if (run.Disagreements == 0)
            return Conflict("Nothing to accept", "The run found no disagreements between judge and humans, so its prompt is unchanged; discard it instead.");

        var builtIn = run.MetricKind == AlignmentRunStateMachine.BuiltInKind;
        if (!builtIn)
        {
            if (!string.IsNullOrWhiteSpace(request.ForkName))
                return Results.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["forkName"] = [$"Metric '{run.MetricKey}' is custom: accepting adds a version to it, so there is no fork to name."],
                });
            var metric = await metrics.GetMetricAsync(run.Workspace, run.MetricId, cancellationToken);
            if (metric is null)
                return Conflict("Metric is gone", $"Metric {run.MetricId} no longer exists, so the run cannot be accepted.");
            if (metric.CurrentVersion != run.MetricVersion && !request.OverrideNewerVersion)
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The metric has a newer version",
                    detail: $"Metric '{run.MetricKey}' is now at version {metric.CurrentVersion}, but the run aligned version {run.MetricVersion}. " +
                            "Accept with overrideNewerVersion set to replace it anyway, or start a new run on the current version.",
                    extensions: new Dictionary<string, object?> { ["runVersion"] = run.MetricVersion, ["currentVersion"] = metric.CurrentVersion });
        }

        using var trace = ContinueRunTrace(run, "alignment.accept");
        await publisher.PublishAsync(new AcceptAlignmentRun
        {
            RunId = id, OverrideNewerVersion = request.OverrideNewerVersion, ForkName = Blank(request.ForkName), RequestedAt = DateTimeOffset.UtcNow,
        }, id, "acceptance", BusCalls.BusTimeout(configuration), cancellationToken);
        return Results.Accepted($"/api/alignment-runs/{id}", AlignmentRunResponse.From(run));
    }

    static async Task<IResult> DiscardAsync(Guid id, Caller caller, NpgsqlDataSource dataSource, IPublishEndpoint publisher, IConfiguration configuration,
        CancellationToken cancellationToken)
    {
        var run = await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, id, cancellationToken);
        if (run is null) return NotFound(id);
        if (Undecidable(run) is { } conflict) return conflict;
        using var trace = ContinueRunTrace(run, "alignment.discard");
        await publisher.PublishAsync(new DiscardAlignmentRun { RunId = id, RequestedAt = DateTimeOffset.UtcNow },
            id, "discard", BusCalls.BusTimeout(configuration), cancellationToken);
        return Results.Accepted($"/api/alignment-runs/{id}", AlignmentRunResponse.From(run));
    }

    static async Task<IResult> RetryAsync(Guid id, Caller caller, NpgsqlDataSource dataSource, IPublishEndpoint publisher, IConfiguration configuration,
        CancellationToken cancellationToken)
    {
        var run = await AlignmentRunStore.GetAsync(dataSource, caller.Workspace, id, cancellationToken);
        if (run is null) return NotFound(id);
        if (run.CurrentState != "Error")
            return Conflict("Only failed runs can be retried", $"The run is {AlignmentRunResponse.StatusOf(run.CurrentState)}; retry applies to runs in error.");
        using var trace = ContinueRunTrace(run, "alignment.retry");
        await publisher.PublishAsync(new RetryAlignmentRun { RunId = id, RequestedAt = DateTimeOffset.UtcNow },
            id, "retry", BusCalls.BusTimeout(configuration), cancellationToken);
        return Results.Accepted($"/api/alignment-runs/{id}", AlignmentRunResponse.From(run));
    }

    /// <summary>
    /// <see cref="RunTrace.Continue"/>, with the workspace tagged on the request's span and on the span continuing the
    /// run's trace, so that both say whose run it is.
    /// </summary>
    static System.Diagnostics.Activity? ContinueRunTrace(AlignmentRunState run, string name)
    {
        System.Diagnostics.Activity.Current?.SetTag(Telemetry.Tags.Workspace, run.Workspace);
        return RunTrace.Continue(run, name)?.SetTag(Telemetry.Tags.Workspace, run.Workspace);
    }

    /// <summary>Accept and discard apply once, to an aligned run.</summary>
    static IResult? Undecidable(AlignmentRunState run) => run.CurrentState switch
    {
        "Aligned" => null,
        "Accepting" => Conflict("Already being accepted", "The run is being accepted; it can be accepted or discarded only once."),
        "Accepted" or "Discarded" => Conflict("Already decided",
            $"The run was already {AlignmentRunResponse.StatusOf(run.CurrentState)}; it can be accepted or discarded only once."),
        _ => Conflict("The run is not aligned",
            $"The run is {AlignmentRunResponse.StatusOf(run.CurrentState)}; only an aligned run can be accepted or discarded."),
    };

    static IResult Conflict(string title, string detail) => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: title, detail: detail);

    /// <summary>
    /// An empty history is only answered for a metric the caller can see: another workspace's metric is 404, as an unknown
    /// one. A history with runs needs no call, since the caller's workspace has runs of it.
    /// </summary>
    static async Task<bool> MetricVisibleAsync(IMetricsClient metrics, Caller caller, Guid metricId, CancellationToken cancellationToken) =>
        await metrics.GetMetricAsync(caller.Workspace, metricId, cancellationToken) is not null;

    static IResult UnknownMetric(Guid metricId) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown metric", detail: $"Metric {metricId} does not exist.");

    static IResult NotFound(Guid id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown alignment run", detail: $"Alignment run {id} does not exist.");
}
