using System.Net;

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
    [InlineData("metrics")]
    [InlineData("annotations")]
    [InlineData("alignment")]
    public async Task Every_service_serves_its_openapi_document(string service)
    {
        using var client = fixture.CreateClient(service);

        var document = await client.GetStringAsync("/openapi/v1.json");

        document.Should().Contain("\"openapi\"");
    }
}
