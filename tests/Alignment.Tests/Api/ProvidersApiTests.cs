using System.Net;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;

namespace MetricAlignment.Alignment.Tests.Api;

/// <summary>The Alignment service with two LLM providers configured and one of them the platform default.</summary>
public sealed class ConfiguredProvidersFixture : IAsyncLifetime
{
    public const string Secret = "sk-providers-api-secret";
    public const string LocalEndpoint = "http://127.0.0.1:11434/v1";

    string database = null!;
    string virtualHost = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_providers");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-providers");
        Factory = AlignmentAppFixture.CreateFactory(database, virtualHost, new FakeMetricsClient(), new FakeAnnotationsClient(), new()
        {
            ["Alignment:DefaultProvider"] = "local",
            ["Alignment:DefaultModel"] = "qwen2",
            ["Alignment:Providers:local:Endpoint"] = LocalEndpoint,
            ["Alignment:Providers:local:ApiKey"] = Secret,
            ["Alignment:Providers:local:AllowedModels:0"] = "llama3",
            ["Alignment:Providers:local:AllowedModels:1"] = "qwen2",
            ["Alignment:Providers:hosted:Kind"] = "openai",
            ["Alignment:Providers:hosted:ApiKey"] = Secret,
            ["Alignment:Providers:hosted:DefaultModel"] = "gpt-4o-mini",
        });
        using var client = Factory.CreateClient();
        (await client.GetAsync("/health")).EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }
}

public sealed class ProvidersApi_with_configured_providers(ConfiguredProvidersFixture app) : IClassFixture<ConfiguredProvidersFixture>
{
    [Fact]
    public async Task A_viewer_reads_the_configured_default_and_every_provider_with_its_models()
    {
        using var viewer = app.Factory.CreateClient().As(Roles.Viewer);

        var body = JsonNode.Parse(await viewer.GetStringAsync("/api/alignment-providers"))!;

        ((string?)body["defaultProvider"]).Should().Be("local");
        ((string?)body["defaultModel"]).Should().Be("qwen2", "the default provider names no model of its own, so Alignment:DefaultModel applies");
        var providers = body["providers"]!.AsArray();
        providers.Select(p => (string?)p!["name"]).Should().Equal("builtin", "hosted", "local");
        var builtIn = providers[0]!;
        ((string?)builtIn["defaultModel"]).Should().BeNull();
        ((bool)builtIn["canJudge"]!).Should().BeFalse();
        var hosted = providers[1]!;
        ((string?)hosted["defaultModel"]).Should().Be("gpt-4o-mini");
        hosted["models"]!.AsArray().Should().BeEmpty("any model is accepted when none are listed");
        ((bool)hosted["canJudge"]!).Should().BeTrue();
        var local = providers[2]!;
        ((string?)local["defaultModel"]).Should().Be("qwen2");
        local["models"]!.AsArray().Select(m => (string?)m).Should().Equal("llama3", "qwen2");
    }

    [Fact]
    public async Task The_answer_carries_no_key_and_no_endpoint()
    {
        using var viewer = app.Factory.CreateClient().As(Roles.Viewer);

        var text = await viewer.GetStringAsync("/api/alignment-providers");

        text.Should().NotContain(ConfiguredProvidersFixture.Secret).And.NotContain("11434").And.NotContainEquivalentOf("endpoint")
            .And.NotContainEquivalentOf("apiKey");
    }

    [Fact]
    public async Task An_anonymous_caller_gets_a_401()
    {
        using var anonymous = app.Factory.CreateClient();

        using var response = await anonymous.GetAsync("/api/alignment-providers");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }
}

[Collection(AlignmentAppCollection.Name)]
public sealed class ProvidersApi_without_configured_providers(AlignmentAppFixture app)
{
    [Fact]
    public async Task The_default_is_the_builtin_distiller_with_no_model()
    {
        using var viewer = app.ClientAs(Roles.Viewer);

        var body = JsonNode.Parse(await viewer.GetStringAsync("/api/alignment-providers"))!;

        ((string?)body["defaultProvider"]).Should().Be("builtin");
        body["defaultModel"].Should().BeNull();
        body["providers"]!.AsArray().Select(p => (string?)p!["name"]).Should().Equal("builtin");
    }
}
