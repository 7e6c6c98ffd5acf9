using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.Alignment.Tests.Reflection;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;

namespace MetricAlignment.Alignment.Tests.Wiring;

/// <summary>
/// The Alignment service with its real Metrics and Annotations clients, pointed (by service discovery configuration) at
/// a loopback stand-in that records each call's token and workspace, and an LLM provider at a scripted loopback server.
/// </summary>
public sealed class PlatformCallsFixture : IAsyncLifetime
{
    public const string Workspace = TestTokens.OtherWorkspace;
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    string database = null!;
    string virtualHost = null!;
    WebApplication standIn = null!;
    public ScriptedOpenAiServer Llm { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public ConcurrentQueue<RecordedCall> Calls { get; } = new();
    public MetricInfo Metric { get; } = new FakeMetricsClient().Add(workspace: Workspace);
    public Guid EvaluationId { get; } = Guid.NewGuid();

    public sealed record RecordedCall(string Path, string? Authorization, string? Workspace);

    public async Task InitializeAsync()
    {
        Llm = await ScriptedOpenAiServer.StartAsync(ReflectionData.Script());
        standIn = await StartStandInAsync();
        var address = standIn.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_calls");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-calls");
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", database);
            web.UseSetting("ConnectionStrings:messaging", virtualHost);
            web.UseSetting("services:metrics:http:0", address);
            web.UseSetting("services:annotations:http:0", address);
            web.UseSetting("Alignment:Worker:HeartbeatInterval", "00:00:01");
            web.UseSetting("Alignment:Providers:local:Endpoint", Llm.Endpoint.ToString());
            web.UseSetting("Alignment:Providers:local:ApiKey", "sk-test-platform-calls");
            web.UseSetting("Alignment:Providers:local:DefaultModel", "gpt-4o-mini");
            web.UseSetting("Alignment:Providers:local:AllowedModels:0", "gpt-4o-mini");
            web.UseSetting("Alignment:Providers:local:TimeoutSeconds", "10");
        });
        using var client = Factory.CreateClient();
        (await client.GetAsync("/health")).EnsureSuccessStatusCode();
    }

    async Task<WebApplication> StartStandInAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var server = builder.Build();
        server.Use(async (context, next) =>
        {
            var headers = context.Request.Headers;
            Calls.Enqueue(new RecordedCall(context.Request.Path, headers.Authorization.ToString() is { Length: > 0 } a ? a : null,
                headers[Caller.WorkspaceHeader].ToString() is { Length: > 0 } w ? w : null));
            await next(context);
        });
        server.MapGet("/api/metrics/{metricId:guid}", () => Results.Json(Metric, Json));
        server.MapGet("/api/metrics/{metricId:guid}/eligible-evaluations", () => Results.Json(new[]
        {
            new EligibleEvaluation { EvaluationId = EvaluationId, Name = "eval", Status = "completed", RowCount = 6, ResolvedRowCount = 6 },
        }, Json));
        server.MapGet("/api/metrics/{metricId:guid}/resolved-rows", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/x-ndjson";
            await foreach (var row in FakeAnnotationsClient.SixRows(Metric.Id, EvaluationId))
                await context.Response.WriteAsync(JsonSerializer.Serialize(row, Json) + "\n", Encoding.UTF8);
        });
        await server.StartAsync();
        return server;
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await standIn.DisposeAsync();
        await Llm.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }
}

public sealed class Calls_to_other_services(PlatformCallsFixture app) : IClassFixture<PlatformCallsFixture>
{
    static IReadOnlyList<string> RolesOf(string authorization) =>
        new JsonWebTokenHandler().ReadJsonWebToken(authorization["Bearer ".Length..]).Claims
            .Where(c => c.Type == Caller.RoleClaim).Select(c => c.Value).ToList();

    [Fact]
    public async Task Carry_the_runs_workspace_and_a_platform_token_while_model_calls_carry_neither()
    {
        var editorToken = TestTokens.For(Roles.MetricEditor, PlatformCallsFixture.Workspace);
        using var editor = app.Factory.CreateClient();
        editor.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", editorToken);

        var response = await editor.PostAsJsonAsync("/api/alignment-runs", new
        {
            metricId = app.Metric.Id, evaluationIds = new[] { app.EvaluationId }, deltaThreshold = 2, reflectionProvider = "local",
        });
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        JsonNode run;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        do
        {
            await Task.Delay(100);
            run = JsonNode.Parse(await editor.GetStringAsync($"/api/alignment-runs/{(string)body["id"]!}"))!;
        } while ((string?)run["status"] is not ("aligned" or "error") && DateTime.UtcNow < deadline);
        ((string?)run["status"]).Should().Be("aligned", run.ToJsonString());

        var calls = app.Calls.ToList();
        calls.Should().OnlyContain(c => c.Workspace == PlatformCallsFixture.Workspace, "every call names the run's workspace");
        calls.Should().OnlyContain(c => c.Authorization != null && c.Authorization.StartsWith("Bearer "));
        // While starting, the service asks on behalf of the caller; the worker acts outside any request, with its own token.
        var onBehalf = calls.Where(c => c.Authorization == $"Bearer {editorToken}").ToList();
        var asService = calls.Except(onBehalf).ToList();
        onBehalf.Select(c => c.Path).Should().Contain([$"/api/metrics/{app.Metric.Id}", $"/api/metrics/{app.Metric.Id}/eligible-evaluations"]);
        asService.Select(c => c.Path).Should().Contain([$"/api/metrics/{app.Metric.Id}", $"/api/metrics/{app.Metric.Id}/resolved-rows"]);
        asService.Should().OnlyContain(c => RolesOf(c.Authorization!).SequenceEqual(new[] { Roles.Service }));

        var platformTokens = calls.Select(c => c.Authorization!).ToHashSet();
        app.Llm.Requests.Should().NotBeEmpty();
        app.Llm.Requests.Should().OnlyContain(r => !r.Headers.ContainsKey(Caller.WorkspaceHeader));
        app.Llm.Requests.Should().OnlyContain(r => !r.Headers.ContainsKey("Authorization") || !platformTokens.Contains(r.Headers["Authorization"]),
            "a model provider never receives a platform token");
        app.Llm.Requests.Where(r => r.Headers.ContainsKey("Authorization")).Should()
            .OnlyContain(r => r.Headers["Authorization"] == "Bearer sk-test-platform-calls");
    }
}
