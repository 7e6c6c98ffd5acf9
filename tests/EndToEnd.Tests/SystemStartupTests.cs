using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting.Testing;

namespace MetricAlignment.EndToEnd.Tests;

[Collection(DistributedAppCollection.Name)]
public sealed class SystemStartupTests(DistributedAppFixture fixture)
{
    [Theory]
    [InlineData("metrics")]
    [InlineData("annotations")]
    [InlineData("alignment")]
    public async Task Every_service_reports_healthy_with_its_database_and_the_broker(string service)
    {
        using var client = fixture.CreateClient(service);

        var health = await client.GetAsync("/health");
        var alive = await client.GetAsync("/alive");

        health.StatusCode.Should().Be(HttpStatusCode.OK);
        (await health.Content.ReadAsStringAsync()).Should().Be("Healthy");
        alive.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("metrics", "api/metrics")]
    [InlineData("annotations", "api/evaluations")]
    [InlineData("alignment", "api/metrics/00000000-0000-4000-8000-000000000001/alignment-runs")]
    public async Task Every_service_refuses_a_caller_without_a_token(string service, string url)
    {
        using var anonymous = fixture.App.CreateHttpClient(service, "http");

        using var response = await anonymous.GetAsync(url);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
    }

    [Theory]
    [InlineData("metrics", "api/metrics")]
    [InlineData("annotations", "api/evaluations")]
    public async Task A_token_the_development_issuer_gives_a_user_is_accepted_by_the_services(string service, string url)
    {
        using var identity = fixture.App.CreateHttpClient("identity", "http");
        using var tokenResponse = await identity.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "viewer", ["password"] = "metric-alignment",
        }));
        tokenResponse.StatusCode.Should().Be(HttpStatusCode.OK, await tokenResponse.Content.ReadAsStringAsync());
        var token = (await tokenResponse.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
        using var viewer = fixture.App.CreateHttpClient(service, "http");
        viewer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var response = await viewer.GetAsync(url);

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("metrics")]
    [InlineData("annotations")]
    [InlineData("alignment")]
    public async Task Every_service_serves_its_openapi_document_and_its_scalar_page(string service)
    {
        using var client = fixture.CreateClient(service);

        var document = await client.GetStringAsync("/openapi/v1.json");
        using var page = await client.GetAsync("/scalar");

        document.Should().Contain("\"openapi\"");
        page.StatusCode.Should().Be(HttpStatusCode.OK);
        page.Content.Headers.ContentType?.MediaType.Should().Be("text/html");
        (await page.Content.ReadAsStringAsync()).Should().ContainEquivalentOf("scalar", "it is the interactive API reference");
    }
}
