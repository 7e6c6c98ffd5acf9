using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace MetricAlignment.Faults.Tests;

/// <summary>RabbitMQ stopped and started again while runs execute and while their results are being accepted.</summary>
[Collection(FaultServicesCollection.Name)]
public sealed class Broker_outage(FaultServices services, ITestOutputHelper output)
{
    static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Runs_and_accepts_interrupted_by_a_broker_restart_all_finish_and_publish_exactly_one_metric_change_each()
    {
        var clock = Stopwatch.StartNew();
        var builtIns = await services.Metrics.GetFromJsonAsync<JsonArray>("/api/metrics?kind=built_in");
        var builtIn = Guid.Parse((string)builtIns!.First(m => (string?)m!["type"] == "quantitative")!["id"]!);
        // Runs on the built-in metric are accepted as forks; runs on a custom metric each (no version race) as new versions.
        var metricIds = new List<Guid> { builtIn, builtIn, builtIn, builtIn };
        for (var i = 0; i < 4; i++) metricIds.Add(await CreateCustomMetricAsync());

        var runs = new List<Guid>();
        foreach (var metricId in metricIds)
            runs.Add(await RunStatus.StartAsync(services.Alignment, metricId, services.Annotations.AddEvaluation(metricId).EvaluationId));
        var running = await RunStatus.WaitAsync(services.Alignment, runs, s => s != "pending", TimeSpan.FromSeconds(60));
        var inFlightAtFault = running.Values.Count(s => s is "pending" or "running");

        // Fault 1: the broker goes away while the workers stream rows and report progress. Readiness follows the broker:
        // a service whose bus is cut off is taken out of the Service, and comes back once the bus reconnected.
        await services.Infrastructure.StopRabbitMqAsync();
        var healthWhileDown = await Task.WhenAll(
            WaitForHealthAsync(services.Alignment, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30)),
            WaitForHealthAsync(services.Metrics, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30)));
        await services.Infrastructure.StartRabbitMqAsync();
        var healthAfter = await Task.WhenAll(
            WaitForHealthAsync(services.Alignment, HttpStatusCode.OK, TimeSpan.FromSeconds(90)),
            WaitForHealthAsync(services.Metrics, HttpStatusCode.OK, TimeSpan.FromSeconds(90)));
        output.WriteLine($"GET /health (Alignment, Metrics) with the broker down: {string.Join(", ", healthWhileDown.Select(s => (int)s))}; " +
            $"after it is back: {string.Join(", ", healthAfter.Select(s => (int)s))}");
        healthWhileDown.Should().OnlyContain(s => s == HttpStatusCode.ServiceUnavailable, "a service cut off from the broker is not ready");
        healthAfter.Should().OnlyContain(s => s == HttpStatusCode.OK, "readiness returns once the bus reconnected");
        var settled = await RunStatus.WaitAsync(services.Alignment, runs, s => RunStatus.Settled.Contains(s), Bound);
        settled.Values.Should().OnlyContain(s => RunStatus.Settled.Contains(s), "every run reaches a final state after the broker restart");

        // Fault 2: the broker goes away while accepts are being sent and applied.
        var aligned = settled.Where(r => r.Value == "aligned").Select(r => r.Key).ToList();
        aligned.Should().NotBeEmpty("the interrupted runs were redelivered and completed");
        var acceptStatuses = new Dictionary<string, int>();
        var stopping = services.Infrastructure.StopRabbitMqAsync();
        var firstAccepts = new List<Task<HttpStatusCode>>();
        foreach (var runId in aligned)
        {
            firstAccepts.Add(AcceptAsync(runId));
            await Task.Delay(150);
        }
        foreach (var status in await Task.WhenAll(firstAccepts)) Tally(acceptStatuses, $"first try {(int)status}");
        await stopping;
        await services.Infrastructure.StartRabbitMqAsync();

        // A client whose accept was refused during the outage tries again; one that got 202 does not.
        var accepted = await RunStatus.WaitAsync(services.Alignment, aligned, s => s is "accepted" or "aligned", Bound);
        foreach (var runId in accepted.Where(r => r.Value == "aligned").Select(r => r.Key))
            Tally(acceptStatuses, $"retry {(int)await AcceptAsync(runId)}");
        accepted = await RunStatus.WaitAsync(services.Alignment, aligned, s => s == "accepted", Bound);
        accepted.Values.Should().OnlyContain(s => s == "accepted", "every accept is applied once the broker is back");

        var eventsDeadline = DateTime.UtcNow + Bound;
        while (aligned.Any(id => services.Events.Count(id) == 0) && DateTime.UtcNow < eventsDeadline) await Task.Delay(250);
        // Time for a duplicate to show up, should there be one.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var perRun = aligned.ToDictionary(id => id, services.Events.Count);

        output.WriteLine($"RabbitMQ faults injected: 2 (stop + start during runs, stop during accepts + start), elapsed {clock.Elapsed.TotalSeconds:F0} s");
        output.WriteLine($"Runs started: {runs.Count}; executing when the broker stopped: {inFlightAtFault}; " +
            $"final states: {string.Join(", ", settled.Values.GroupBy(s => s).Select(g => $"{g.Key} {g.Count()}"))}");
        output.WriteLine($"Accept requests: {string.Join(", ", acceptStatuses.Select(s => $"{s.Key}: {s.Value}"))}");
        output.WriteLine($"Runs accepted: {accepted.Values.Count(s => s == "accepted")}; MetricForked/MetricVersioned published (distinct message ids): " +
            $"{services.Events.TotalMessages}, deliveries to the counting consumer: {services.Events.TotalDeliveries}; " +
            $"events lost: {perRun.Values.Count(c => c == 0)}; runs with more than one event: {perRun.Values.Count(c => c > 1)}");

        perRun.Values.Should().OnlyContain(count => count == 1, "every accepted run publishes exactly one MetricForked or MetricVersioned");
        var versions = await Task.WhenAll(metricIds.Distinct().Where(id => id != builtIn).Select(async id =>
            (int)(await services.Metrics.GetFromJsonAsync<JsonObject>($"/api/metrics/{id}"))!["currentVersion"]!));
        versions.Should().OnlyContain(v => v == 2, "each custom metric gained exactly one version from its one run");
    }

    async Task<HttpStatusCode> AcceptAsync(Guid runId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var response = await services.Alignment.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { }, timeout.Token);
            return response.StatusCode;
        }
        catch (OperationCanceledException)
        {
            return HttpStatusCode.RequestTimeout;
        }
    }

    /// <summary>Polls GET /health until it answers <paramref name="expected"/> or the bound passes; returns the last answer.</summary>
    static async Task<HttpStatusCode> WaitForHealthAsync(HttpClient service, HttpStatusCode expected, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        var status = HttpStatusCode.RequestTimeout;
        while (DateTime.UtcNow < deadline)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                using var response = await service.GetAsync("/health", timeout.Token);
                status = response.StatusCode;
            }
            catch (OperationCanceledException)
            {
                status = HttpStatusCode.RequestTimeout;
            }
            if (status == expected) break;
            await Task.Delay(200);
        }
        return status;
    }

    static void Tally(Dictionary<string, int> tally, string key) => tally[key] = tally.GetValueOrDefault(key) + 1;

    async Task<Guid> CreateCustomMetricAsync()
    {
        var response = await services.Metrics.PostAsJsonAsync("/api/metrics", new
        {
            name = $"Tone {Guid.NewGuid():N}", description = "How well the tone suits the user.", type = "quantitative",
            scaleMin = 1, scaleMax = 5, scope = "turn", systemPrompt = "You judge tone.",
            userPromptTemplate = "User: {{input}}\nAssistant: {{output}}\nScore the tone from 1 to 5.", author = "faults@example.com",
        });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
    }
}
