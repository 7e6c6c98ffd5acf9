using Xunit.Abstractions;

namespace MetricAlignment.Security.Tests;

/// <summary>Sending many requests and saying what went wrong, with the figures of the summary line.</summary>
public static class Sweep
{
    public static readonly string[] ServiceNames = ["Metrics", "Annotations", "Alignment"];

    public static TheoryData<string> Services => new(ServiceNames);

    /// <summary>A request to the endpoint; a write carries a JSON body (an empty object unless one is given).</summary>
    public static ApiRequest To(ApiEndpoint endpoint, string url, string? body = null) =>
        new(endpoint.Service, new HttpMethod(endpoint.Method), url, endpoint.IsWrite ? body ?? "{}" : null, endpoint.ContentType);

    /// <summary>Sends each request; returns a line for every answer that is not a problem detail with one of the statuses.</summary>
    public static async Task<List<string>> ExpectAsync(HttpClient client, IEnumerable<ApiRequest> requests, params int[] statuses)
    {
        var failures = new List<string>();
        foreach (var request in requests)
        {
            var answer = await Answer.SendAsync(client, request);
            if (answer.Unless(statuses) is { } failure) failures.Add(failure);
        }
        return failures;
    }

    /// <summary>Prints the test's summary line, the suite's so far and the failures; then asserts none and no 5xx.</summary>
    public static void Conclude(ITestOutputHelper output, SecuredServices services, Tally tally, string what, IReadOnlyCollection<string> failures)
    {
        output.WriteLine(tally.Summary(what));
        output.WriteLine(services.Total.Summary("security suite so far"));
        foreach (var failure in failures) output.WriteLine(failure);
        tally.Sent.Should().BePositive("the test sent its requests");
        failures.Should().BeEmpty();
        tally.ServerErrors.Should().Be(0, "no attack may make a service fail");
    }
}
