using System.Net;
using System.Text.Json.Nodes;
using System.Net.Http.Json;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class When_the_metrics_service_fails(AlignmentAppFixture app)
{
    public static TheoryData<string> Failures => ["unreachable", "timed out", "circuit open"];

    static Exception Failure(string kind) => kind switch
    {
        "unreachable" => new HttpRequestException("Connection refused (metrics:8080)"),
        "timed out" => new Polly.Timeout.TimeoutRejectedException("The operation didn't complete within the allowed timeout of '00:00:10'."),
        "circuit open" => new Polly.CircuitBreaker.BrokenCircuitException("The circuit is now open and is not allowing calls."),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Starting_a_run_answers_503_with_retry_after_and_stores_nothing(string kind)
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        app.Metrics.Failure = () => Failure(kind);
        HttpResponseMessage response;
        JsonNode body;
        try
        {
            (response, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId }, deltaThreshold = 1 });
        }
        finally
        {
            app.Metrics.Failure = null;
        }

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, body.ToJsonString());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        response.Headers.RetryAfter.Should().NotBeNull();
        ((string?)body["detail"]).Should().StartWith("A service this one depends on");
        var history = await app.Client.GetFromJsonAsync<JsonArray>($"/api/metrics/{metric.Id}/alignment-runs");
        history.Should().BeEmpty("a refused start leaves no run behind");
    }
}
