using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace MetricAlignment.Faults.Tests;

/// <summary>Reading alignment runs over the API, with every wait bounded.</summary>
public static class RunStatus
{
    public static readonly string[] Settled = ["aligned", "error", "cancelled", "accepted", "discarded"];

    public static async Task<string> OfAsync(HttpClient alignment, Guid runId)
    {
        var run = JsonNode.Parse(await alignment.GetStringAsync($"/api/alignment-runs/{runId}"))!;
        return (string)run["status"]!;
    }

    /// <summary>Polls until every run's status satisfies <paramref name="done"/> or the deadline passes; returns the last statuses.</summary>
    public static async Task<Dictionary<Guid, string>> WaitAsync(HttpClient alignment, IEnumerable<Guid> runIds, Func<string, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var statuses = runIds.ToDictionary(id => id, _ => (string?)null);
        while (true)
        {
            foreach (var id in statuses.Keys.ToList())
                if (statuses[id] is not { } known || !done(known))
                {
                    try { statuses[id] = await OfAsync(alignment, id); }
                    catch (HttpRequestException) { }
                }
            if (statuses.Values.All(s => s is not null && done(s)) || DateTime.UtcNow > deadline)
                return statuses.ToDictionary(s => s.Key, s => s.Value ?? "unknown");
            await Task.Delay(250);
        }
    }

    public static async Task<Guid> StartAsync(HttpClient alignment, Guid metricId, Guid evaluationId)
    {
        var response = await alignment.PostAsJsonAsync("/api/alignment-runs", new { metricId, evaluationIds = new[] { evaluationId }, deltaThreshold = 2 });
        response.StatusCode.Should().Be(System.Net.HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
    }
}
