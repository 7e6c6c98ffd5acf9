extern alias metrics;
extern alias annotations;
extern alias alignment;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using alignment::MetricAlignment.Alignment.Clients;
using annotations::MetricAlignment.Annotations.Metrics;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using Xunit.Sdk;
using AlignmentProgram = alignment::Program;
using AnnotationsProgram = annotations::Program;
using MetricsProgram = metrics::Program;

namespace MetricAlignment.Security.Tests;

/// <summary>One service under attack: how to reach it, its endpoints (through its services) and its database.</summary>
public sealed record ServiceUnderTest(string Name, IServiceProvider Services, Func<DelegatingHandler[], HttpClient> NewClient, string DatabaseConnectionString)
{
    public static ServiceUnderTest Of<TProgram>(string name, InProcessService<TProgram> service) where TProgram : class =>
        new(name, service.Factory.Services, handlers => service.Factory.CreateDefaultClient(handlers), service.Database);

    public override string ToString() => Name;
}

/// <summary>
/// What the <c>default</c> workspace owns once the fixture has set it up; <c>globex</c> must see none of it.
/// <c>Globex*</c> is globex's own custom metric, which default in turn must not see.
/// </summary>
public sealed record DefaultWorkspaceData(
    Guid MetricId, string MetricKey, Guid EvaluationId, Guid RowId, Guid FluencyId, Guid CustomMetricRunId, Guid FluencyRunId,
    Guid GlobexMetricId, string GlobexMetricKey);

/// <summary>
/// The three real services in process, each on a fresh database and RabbitMQ vhost, calling each other as in production:
/// Annotations asks Metrics for its catalogue and Alignment asks both, over in-process HTTP with the platform's token
/// forwarding, so that a workspace boundary one service forgets to pass on shows. The <c>default</c> workspace gets a
/// custom metric, an evaluation with resolved rows on it and on the built-in fluency, and a run on each metric; globex
/// gets a custom metric of its own.
/// </summary>
public sealed class SecuredServices(IMessageSink diagnostics) : IAsyncLifetime
{
    static readonly TimeSpan RunSettleTimeout = TimeSpan.FromSeconds(60);

    readonly InProcessServices services = new();
    DefaultWorkspaceData? data;
    string? dataProblem;

    public ServiceUnderTest Metrics { get; private set; } = null!;
    public ServiceUnderTest Annotations { get; private set; } = null!;
    public ServiceUnderTest Alignment { get; private set; } = null!;
    public IEnumerable<ServiceUnderTest> All => [Metrics, Annotations, Alignment];
    public ServiceUnderTest this[string name] => All.Single(s => s.Name == name);

    /// <summary>Every request the suite's tests send (not the setup's).</summary>
    public Tally Total { get; } = new();

    /// <summary>What <c>default</c> owns; the setup's failure, when it failed, is the message.</summary>
    public DefaultWorkspaceData Default => data ?? throw new InvalidOperationException($"Setting up the default workspace's data failed: {dataProblem}");

    public async Task InitializeAsync()
    {
        var metrics = await services.StartIsolatedAsync<MetricsProgram>("security", "metricsdb");
        Metrics = ServiceUnderTest.Of("Metrics", metrics);

        var annotations = await services.StartIsolatedAsync<AnnotationsProgram>("security", "annotationsdb",
            new Dictionary<string, string> { ["Annotations:MetricsServiceUrl"] = "http://localhost/" },
            testServices => testServices.AddHttpClient<IMetricCatalog, HttpMetricCatalog>().CallingInProcess(metrics));
        Annotations = ServiceUnderTest.Of("Annotations", annotations);

        // The real clients with their token handlers; only the transport is in process.
        var alignment = await services.StartIsolatedAsync<AlignmentProgram>("security", "alignmentdb", testServices: testServices =>
        {
            testServices.AddHttpClient<IMetricsClient, MetricsClient>().CallingInProcess(metrics);
            testServices.AddHttpClient<IAnnotationsClient, AnnotationsClient>().CallingInProcess(annotations);
        });
        Alignment = ServiceUnderTest.Of("Alignment", alignment);

        foreach (var service in All)
        {
            using var anonymous = service.NewClient([]);
            (await anonymous.GetAsync("/health")).EnsureSuccessStatusCode();
        }

        try
        {
            data = await SetUpDefaultWorkspaceAsync();
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TimeoutException or NullReferenceException or FormatException)
        {
            // The anonymous, forged-token and role sweeps need no data: they still run, and the isolation tests say why they cannot.
            dataProblem = e.Message;
        }
    }

    /// <summary>A client of the service whose requests count into the tally (and the suite's total) and carry the token, if any.</summary>
    public HttpClient Client(ServiceUnderTest service, Tally tally, string? bearer = null, string? workspaceHeader = null)
    {
        var client = service.NewClient([new CountingHandler(tally, Total)]);
        if (bearer is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (workspaceHeader is not null) client.DefaultRequestHeaders.Add(Caller.WorkspaceHeader, workspaceHeader);
        return client;
    }

    /// <summary>A person with the role in the workspace.</summary>
    public HttpClient As(ServiceUnderTest service, Tally tally, string role, string workspace = TestTokens.Workspace, string? workspaceHeader = null) =>
        Client(service, tally, TestTokens.For(role, workspace), workspaceHeader);

    /// <summary>A platform service acting for the workspace its X-Workspace header names (none when null).</summary>
    public HttpClient AsService(ServiceUnderTest service, Tally tally, string? workspace) =>
        Client(service, tally, TestTokens.For([Roles.Service], null, "service:security-tests"), workspace);

    async Task<DefaultWorkspaceData> SetUpDefaultWorkspaceAsync()
    {
        // The setup's requests are not the suite's: they count into no tally.
        using var metrics = SetupClient(Metrics, TestTokens.Workspace);
        using var annotations = SetupClient(Annotations, TestTokens.Workspace);
        using var alignment = SetupClient(Alignment, TestTokens.Workspace);
        using var globexMetrics = SetupClient(Metrics, TestTokens.OtherWorkspace);

        var (metricId, metricKey) = await CreateMetricAsync(metrics, "default");
        var (globexMetricId, globexMetricKey) = await CreateMetricAsync(globexMetrics, "globex");
        var fluencyId = (await JsonOf(await metrics.GetAsync("/api/metrics/fluency"), "reading the built-in fluency"))["id"]!.GetValue<Guid>();

        var lines = new List<JsonNode>
        {
            new JsonObject
            {
                ["name"] = "default workspace secrets", ["status"] = "completed",
                ["metrics"] = new JsonArray(
                    new JsonObject { ["metric"] = metricKey, ["resolution"] = "mean" },
                    new JsonObject { ["metric"] = "fluency", ["resolution"] = "median" }),
            },
        };
        for (var n = 1; n <= 6; n++)
        {
            // Four rows the judge overrates by four points: disagreements for a run to work on.
            var human = n <= 4 ? 1 : 5;
            lines.Add(new JsonObject
            {
                ["externalId"] = $"secret-{n}",
                ["input"] = $"Confidential article {n}: the board approved the merger on Tuesday.",
                ["output"] = n <= 4 ? $"merger the board Tuesday approved {n}" : "The board approved the merger.",
                ["judge"] = new JsonObject
                {
                    [metricKey] = new JsonObject { ["score"] = 5, ["explanation"] = "Faithful." },
                    ["fluency"] = new JsonObject { ["score"] = 5, ["explanation"] = "Reads well." },
                },
                ["annotations"] = new JsonArray(
                    new JsonObject { ["metric"] = metricKey, ["reviewerId"] = "r1", ["score"] = human, ["comment"] = "Scrambled." },
                    new JsonObject { ["metric"] = "fluency", ["reviewerId"] = "r1", ["score"] = human }),
            });
        }
        using var ndjson = new StringContent(string.Join('\n', lines.Select(l => l.ToJsonString())), Encoding.UTF8, "application/x-ndjson");
        var evaluationId = (await JsonOf(await annotations.PostAsync("/api/evaluations/import", ndjson), "importing the default workspace's evaluation"))
            ["evaluationId"]!.GetValue<Guid>();
        var rows = await JsonOf(await annotations.GetAsync($"/api/evaluations/{evaluationId}/rows"), "reading its rows");
        var rowId = rows["items"]![0]!["id"]!.GetValue<Guid>();

        var customMetricRun = await StartRunAsync(alignment, metricId, evaluationId);
        var fluencyRun = await StartRunAsync(alignment, fluencyId, evaluationId);
        await WaitUntilSettledAsync(alignment, customMetricRun);
        await WaitUntilSettledAsync(alignment, fluencyRun);
        return new DefaultWorkspaceData(metricId, metricKey, evaluationId, rowId, fluencyId, customMetricRun, fluencyRun, globexMetricId, globexMetricKey);
    }

    HttpClient SetupClient(ServiceUnderTest service, string workspace)
    {
        var client = service.NewClient([]);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.For(Roles.Admin, workspace));
        return client;
    }

    static async Task<(Guid Id, string Key)> CreateMetricAsync(HttpClient metrics, string workspace)
    {
        var created = await metrics.PostAsJsonAsync("/api/metrics", new
        {
            name = $"Security probe {Guid.NewGuid():N}", description = $"A custom metric of the {workspace} workspace.", type = "quantitative",
            scaleMin = 1, scaleMax = 5, scope = "turn", systemPrompt = "You judge whether the summary is faithful.",
            userPromptTemplate = "Article: {{input}}\nSummary: {{output}}\nScore it.", author = $"owner@{workspace}.test",
        });
        var metric = await JsonOf(created, $"creating the {workspace} workspace's custom metric");
        return (metric["id"]!.GetValue<Guid>(), metric["key"]!.GetValue<string>());
    }

    static async Task<Guid> StartRunAsync(HttpClient alignment, Guid metricId, Guid evaluationId)
    {
        var started = await alignment.PostAsJsonAsync("/api/alignment-runs", new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 1 });
        return (await JsonOf(started, $"starting a run on metric {metricId}"))["id"]!.GetValue<Guid>();
    }

    /// <summary>A run that still moves would change the database under the tests that check nothing changed.</summary>
    static async Task WaitUntilSettledAsync(HttpClient alignment, Guid runId)
    {
        var deadline = DateTime.UtcNow + RunSettleTimeout;
        while (true)
        {
            var run = await JsonOf(await alignment.GetAsync($"/api/alignment-runs/{runId}"), $"reading run {runId}");
            if ((string?)run["status"] is not ("pending" or "running")) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Run {runId} did not settle within {RunSettleTimeout}: {run.ToJsonString()}");
            await Task.Delay(200);
        }
    }

    static async Task<JsonNode> JsonOf(HttpResponseMessage response, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"{what} answered {(int)response.StatusCode}: {body}");
            return JsonNode.Parse(body) ?? throw new InvalidOperationException($"{what} answered an empty body");
        }
    }

    public async Task DisposeAsync()
    {
        // The suite's figures, once every test of the collection has run (xunit.runner.json shows diagnostic messages).
        diagnostics.OnMessage(new DiagnosticMessage(Total.Summary("Security suite (all tests)")));
        // Alignment and Annotations before the services they call.
        await services.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SecuredServicesCollection : ICollectionFixture<SecuredServices>
{
    public const string Name = "secured services";
}
