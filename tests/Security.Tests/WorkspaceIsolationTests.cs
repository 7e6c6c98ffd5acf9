using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Xunit.Abstractions;

namespace MetricAlignment.Security.Tests;

/// <summary>
/// What the <c>default</c> workspace owns (a custom metric, an evaluation with rows, runs) does not exist for
/// <c>globex</c>, not even for its admin: ids answer 404 exactly like unknown ones, lists leave it out, and a run cannot
/// be built on it. X-Workspace chooses the workspace of a service's token only.
/// </summary>
[Collection(SecuredServicesCollection.Name)]
public sealed class WorkspaceIsolationTests(SecuredServices services, ITestOutputHelper output)
{
    const string Globex = TestTokens.OtherWorkspace;

    public static TheoryData<string> Services => Sweep.Services;

    /// <summary>How the route parameters are filled: with default's custom metric by id or key, or with the shared built-in.</summary>
    public enum MetricsNamed { ById, ByKey, AsSharedBuiltIn }

    public static TheoryData<string, MetricsNamed> ServicesAndPasses()
    {
        var data = new TheoryData<string, MetricsNamed>();
        foreach (var service in Sweep.ServiceNames)
            foreach (var pass in Enum.GetValues<MetricsNamed>())
            {
                // Metrics' routes name nothing but metrics; Alignment's take metric ids only, never keys.
                if (service == "Metrics" && pass == MetricsNamed.AsSharedBuiltIn) continue;
                if (service == "Alignment" && pass == MetricsNamed.ByKey) continue;
                data.Add(service, pass);
            }
        return data;
    }

    /// <summary>The value of a route parameter, and whether it is default's own (false: shared, like a built-in metric).</summary>
    static (string Value, bool Owned) ValueOf(string service, string parameter, DefaultWorkspaceData data, MetricsNamed pass)
    {
        (string, bool) Metric(Guid customId, string customKey, string builtIn) => pass switch
        {
            MetricsNamed.ById => (customId.ToString(), true),
            MetricsNamed.ByKey => (customKey, true),
            _ => (builtIn, false),
        };
        return (service, parameter) switch
        {
            ("Metrics", "idOrKey") => Metric(data.MetricId, data.MetricKey, "fluency"),
            ("Metrics", "version") => ("1", false),
            ("Annotations", "id") => (data.EvaluationId.ToString(), true),
            ("Annotations", "rowId") => (data.RowId.ToString(), true),
            ("Annotations", "metric") => Metric(data.MetricId, data.MetricKey, "fluency"),
            ("Alignment", "id") => (data.CustomMetricRunId.ToString(), true),
            ("Alignment", "metricId") => Metric(data.MetricId, data.MetricId.ToString(), data.FluencyId.ToString()),
            _ => throw new InvalidOperationException(
                $"{service}'s route parameter {{{parameter}}} is new to this suite: say which of default's things it should name."),
        };
    }

    /// <summary>
    /// Bodies that are valid whoever owns the target, so that only the workspace decides the answer. An annotation names the
    /// built-in metric: naming default's custom one would be refused (400, as an unknown metric) before the row is looked at.
    /// </summary>
    static string? BodyOf(ApiEndpoint endpoint) => endpoint.Key switch
    {
        "Metrics POST /api/metrics/{idOrKey}/versions" => new JsonObject
        {
            ["systemPrompt"] = "Score every row 5.", ["userPromptTemplate"] = "{{output}}", ["author"] = "mallory@globex.test", ["changeNote"] = "hijack",
        }.ToJsonString(),
        "Metrics POST /api/metrics/{idOrKey}/fork" => new JsonObject { ["name"] = $"Stolen {Guid.NewGuid():N}", ["author"] = "mallory@globex.test" }.ToJsonString(),
        "Annotations POST /api/rows/{rowId}/annotations" => new JsonObject { ["metric"] = "fluency", ["reviewerId"] = "mallory", ["score"] = 3 }.ToJsonString(),
        "Annotations PUT /api/rows/{rowId}/resolutions/{metric}" => new JsonObject { ["resolvedBy"] = "mallory", ["score"] = 3 }.ToJsonString(),
        "Alignment POST /api/alignment-runs/{id}/accept" => new JsonObject { ["overrideNewerVersion"] = true }.ToJsonString(),
        _ => null,
    };

    [Theory]
    [MemberData(nameof(ServicesAndPasses))]
    public async Task Every_endpoint_taking_an_id_answers_404_to_another_workspaces_admin_and_changes_nothing(string name, MetricsNamed pass)
    {
        var data = services.Default;
        var service = services[name];
        var tally = new Tally();
        using var globex = services.As(service, tally, Roles.Admin, Globex);
        var before = await StateAsync();
        // Each request naming default's things, with the same request naming nothing that exists: what 404 must look like.
        var requests = new List<(ApiRequest Owned, ApiRequest Unknown)>();
        foreach (var endpoint in ApiEndpoints.SecuredOf(service).Where(e => e.Parameters.Count > 0))
        {
            var values = endpoint.Parameters.ToDictionary(p => p, p => ValueOf(name, p, data, pass));
            // With only shared things named (a built-in's versions), another workspace legitimately sees them.
            if (!values.Values.Any(v => v.Owned)) continue;
            requests.Add((Sweep.To(endpoint, endpoint.Url(p => values[p.Name].Value), BodyOf(endpoint)),
                Sweep.To(endpoint, endpoint.UrlOfNothing(), BodyOf(endpoint))));
        }
        if (name == "Annotations")
            requests.Add((ApiRequest.Get(name, $"/api/metrics/fluency/resolved-rows?evaluationId={data.EvaluationId}"),
                ApiRequest.Get(name, $"/api/metrics/fluency/resolved-rows?evaluationId={Guid.NewGuid()}")));

        var failures = new List<string>();
        foreach (var (owned, unknown) in requests)
        {
            var answer = await Answer.SendAsync(globex, owned);
            if (answer.Unless(404) is not { } failure) continue;
            // Said so that a report tells a leak (answers differ) from a missing 404 that leaks nothing.
            var control = await Answer.SendAsync(globex, unknown);
            var same = control.Status == answer.Status && control.Body == answer.Body ? "the same answer" : "a different body";
            failures.Add($"{failure} (the same request naming nothing that exists answers {control.Status}, {same}: "
                + $"{control.Body[..Math.Min(200, control.Body.Length)]})");
        }

        output.WriteLine($"{requests.Count} requests naming default's things ({pass})");
        Sweep.Conclude(output, services, tally, $"{name}, globex admin on default's ids ({pass})", failures);
        (await StateAsync()).Should().BeEquivalentTo(before, "another workspace's requests change nothing of default's");
    }

    [Fact]
    public async Task Lists_of_another_workspace_leave_out_default_metrics_evaluations_rows_and_runs()
    {
        var data = services.Default;
        var tally = new Tally();
        string[] secrets = [data.MetricId.ToString(), data.MetricKey, data.EvaluationId.ToString(), data.RowId.ToString(),
            data.CustomMetricRunId.ToString(), data.FluencyRunId.ToString()];
        (ServiceUnderTest Service, string Url, string Shows)[] lists =
        [
            (services.Metrics, "/api/metrics", data.MetricKey),
            (services.Metrics, "/api/metrics?kind=custom", data.MetricKey),
            (services.Annotations, "/api/evaluations", data.EvaluationId.ToString()),
            (services.Annotations, "/api/metrics/fluency/eligible-evaluations", data.EvaluationId.ToString()),
            (services.Annotations, "/api/metrics/fluency/resolved-rows", data.RowId.ToString()),
            (services.Alignment, $"/api/metrics/{data.FluencyId}/eligible-evaluations", data.EvaluationId.ToString()),
            (services.Alignment, $"/api/metrics/{data.FluencyId}/alignment-runs", data.FluencyRunId.ToString()),
        ];
        var failures = new List<string>();

        foreach (var (service, url, shows) in lists)
        {
            using var owner = services.As(service, tally, Roles.Viewer);
            using var other = services.As(service, tally, Roles.Admin, Globex);
            var seen = await Answer.SendAsync(owner, ApiRequest.Get(service.Name, url));
            var hidden = await Answer.SendAsync(other, ApiRequest.Get(service.Name, url));
            if (seen.Status != 200 || !seen.Body.Contains(shows, StringComparison.Ordinal))
                failures.Add($"{seen.Request} as a default viewer answered {seen.Status} without {shows}: the control failed");
            if (hidden.Status != 200) failures.Add($"{hidden.Request} as a globex admin answered {hidden.Status}, expected 200");
            foreach (var secret in secrets.Where(s => hidden.Body.Contains(s, StringComparison.Ordinal)))
                failures.Add($"{hidden.Request} as a globex admin shows default's {secret}");
        }

        Sweep.Conclude(output, services, tally, "lists, default viewer vs globex admin", failures);
    }

    [Fact]
    public async Task A_run_in_another_workspace_cannot_use_default_evaluations_or_metrics()
    {
        var data = services.Default;
        var tally = new Tally();
        using var globex = services.As(services.Alignment, tally, Roles.Admin, Globex);
        var before = await StateAsync();

        var onDefaultsEvaluation = await StartAsync(globex, data.FluencyId, data.EvaluationId);
        var onUnknownEvaluation = await StartAsync(globex, data.FluencyId, Guid.NewGuid());
        var onDefaultsMetric = await StartAsync(globex, data.MetricId, data.EvaluationId);
        var history = await Answer.SendAsync(globex, ApiRequest.Get("Alignment", $"/api/metrics/{data.FluencyId}/alignment-runs"));

        var failures = new[] { onDefaultsEvaluation.Unless(400, 404), onDefaultsMetric.Unless(404), history.Unless(200) }.OfType<string>().ToList();
        if (onDefaultsEvaluation.Status != onUnknownEvaluation.Status)
            failures.Add($"default's evaluation answered {onDefaultsEvaluation.Status} but an unknown one {onUnknownEvaluation.Status}: its existence leaks");
        if (history.Status == 200 && JsonNode.Parse(history.Body) is JsonArray runs && runs.Count > 0)
            failures.Add($"globex's run history of fluency is not empty: {history.Body}");
        Sweep.Conclude(output, services, tally, "globex starting runs on default's evaluation and metric", failures);
        (await StateAsync()).Should().BeEquivalentTo(before);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task A_service_token_acts_in_the_workspace_its_X_Workspace_header_names_and_no_other(string name)
    {
        var tally = new Tally();
        var service = services[name];
        var url = OwnedThingOf(name);
        using var forDefault = services.AsService(service, tally, TestTokens.Workspace);
        using var forGlobex = services.AsService(service, tally, Globex);

        var failures = new[]
        {
            (await Answer.SendAsync(forDefault, ApiRequest.Get(name, url))).Unless(200),
            (await Answer.SendAsync(forGlobex, ApiRequest.Get(name, url))).Unless(404),
        }.OfType<string>().ToList();

        Sweep.Conclude(output, services, tally, $"{name}, service token with X-Workspace", failures);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task The_X_Workspace_header_does_not_move_a_person_to_another_workspace(string name)
    {
        var tally = new Tally();
        var service = services[name];
        var url = OwnedThingOf(name);
        using var defaultViewerClaimingGlobex = services.As(service, tally, Roles.Viewer, TestTokens.Workspace, workspaceHeader: Globex);
        using var globexViewerClaimingDefault = services.As(service, tally, Roles.Viewer, Globex, workspaceHeader: TestTokens.Workspace);

        var failures = new[]
        {
            (await Answer.SendAsync(defaultViewerClaimingGlobex, ApiRequest.Get(name, url))).Unless(200),
            (await Answer.SendAsync(globexViewerClaimingDefault, ApiRequest.Get(name, url))).Unless(404),
        }.OfType<string>().ToList();
        if (name == "Metrics")
        {
            var data = services.Default;
            var list = await Answer.SendAsync(defaultViewerClaimingGlobex, ApiRequest.Get(name, "/api/metrics?kind=custom"));
            if (list.Status != 200 || !list.Body.Contains(data.MetricKey, StringComparison.Ordinal))
                failures.Add($"a default viewer sending X-Workspace: globex did not see default's custom metric: {list.Status} {list.Body}");
            if (list.Body.Contains(data.GlobexMetricKey, StringComparison.Ordinal) || list.Body.Contains(data.GlobexMetricId.ToString(), StringComparison.Ordinal))
                failures.Add($"a default viewer sending X-Workspace: globex sees globex's custom metric: {list.Body}");
            if ((await Answer.SendAsync(defaultViewerClaimingGlobex, ApiRequest.Get(name, $"/api/metrics/{data.GlobexMetricId}"))).Unless(404) is { } failure)
                failures.Add(failure);
        }

        Sweep.Conclude(output, services, tally, $"{name}, person's token with another X-Workspace", failures);
    }

    /// <summary>A URL naming something default owns on the service.</summary>
    string OwnedThingOf(string service) => service switch
    {
        "Metrics" => $"/api/metrics/{services.Default.MetricId}",
        "Annotations" => $"/api/evaluations/{services.Default.EvaluationId}",
        _ => $"/api/alignment-runs/{services.Default.CustomMetricRunId}",
    };

    static async Task<Answer> StartAsync(HttpClient alignment, Guid metricId, Guid evaluationId)
    {
        var body = JsonContent.Create(new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 1 });
        return await Answer.SendAsync(alignment, new ApiRequest("Alignment", HttpMethod.Post, "/api/alignment-runs", await body.ReadAsStringAsync()));
    }

    /// <summary>Default's state: the Metrics and Annotations databases' row counts and its runs as default sees them.</summary>
    async Task<object> StateAsync()
    {
        var tally = new Tally();
        using var alignment = services.As(services.Alignment, tally, Roles.Viewer);
        var runs = new List<string?>();
        foreach (var run in new[] { services.Default.CustomMetricRunId, services.Default.FluencyRunId })
        {
            var json = JsonNode.Parse(await alignment.GetStringAsync($"/api/alignment-runs/{run}"))!;
            runs.Add($"{json["status"]} {json["outcome"]?.ToJsonString()}");
        }
        return new
        {
            Metrics = await DatabaseRows.CountAsync(services.Metrics.DatabaseConnectionString),
            Annotations = await DatabaseRows.CountAsync(services.Annotations.DatabaseConnectionString),
            Runs = runs,
        };
    }
}
