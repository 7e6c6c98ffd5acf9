using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Xunit.Abstractions;

namespace MetricAlignment.Faults.Tests;

/// <summary>PostgreSQL stopped under a steady load of Metrics API requests, then started again.</summary>
[Collection(FaultServicesCollection.Name)]
public sealed class Database_outage(FaultServices services, ITestOutputHelper output)
{
    const int Clients = 4;
    static readonly TimeSpan Outage = TimeSpan.FromSeconds(4);

    enum Period { Before, Outage, Recovery }

    sealed record Outcome(Period Period, TimeSpan SentAt, string Request, HttpStatusCode Status, string? ContentType, string? MetricName);

    [Fact]
    public async Task Metrics_requests_get_503_problem_details_while_the_database_is_down_and_succeed_after_with_no_half_written_metric()
    {
        var clock = Stopwatch.StartNew();
        var period = (int)Period.Before;
        var outcomes = new ConcurrentBag<Outcome>();
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var current = (Period)Volatile.Read(ref period);
                var name = $"Outage {client}-{i} {Guid.NewGuid():N}";
                outcomes.Add(i % 2 == 0
                    ? await SendAsync(current, clock.Elapsed, "create", name, () => services.Metrics.PostAsJsonAsync("/api/metrics", NewMetric(name)))
                    : await SendAsync(current, clock.Elapsed, "list", null, () => services.Metrics.GetAsync("/api/metrics")));
                await Task.Delay(20);
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(1));
        // The outage counts from the stop command to the start command's return, both included.
        Volatile.Write(ref period, (int)Period.Outage);
        await services.Infrastructure.StopPostgresAsync();
        // Readiness follows the database: a service that cannot reach it is taken out of the Service.
        var healthWhileDown = await WaitForHealthAsync(HttpStatusCode.ServiceUnavailable, Outage);
        await Task.Delay(Outage);
        await services.Infrastructure.StartPostgresAsync();
        var restartedAt = clock.Elapsed;
        Volatile.Write(ref period, (int)Period.Recovery);

        // Recovered once a create and a list succeed after the restart; every wait bounded.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && !(outcomes.Any(o => o.Period == Period.Recovery && o.Request == "create" && o.Status == HttpStatusCode.Created)
            && outcomes.Any(o => o.Period == Period.Recovery && o.Request == "list" && o.Status == HttpStatusCode.OK)))
            await Task.Delay(100);
        var recoveredAt = clock.Elapsed;
        var recoveredAfter = recoveredAt - restartedAt;
        var healthAfter = await WaitForHealthAsync(HttpStatusCode.OK, TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await Task.WhenAll(load);

        var all = outcomes.ToList();
        foreach (var group in all.GroupBy(o => (o.Period, o.Request)).OrderBy(g => g.Key.Period).ThenBy(g => g.Key.Request))
            output.WriteLine($"{group.Key.Period,-8} {group.Key.Request,-6} {string.Join(", ", group.GroupBy(o => (int)o.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}"))}");
        output.WriteLine($"PostgreSQL faults injected: 1 stop of {Outage.TotalSeconds:F0} s; requests: {all.Count}; first success {recoveredAfter.TotalSeconds:F1} s after the restart");

        output.WriteLine($"GET /health while the database is down: {(int)healthWhileDown}; after it is back: {(int)healthAfter}");
        healthWhileDown.Should().Be(HttpStatusCode.ServiceUnavailable, "a service that cannot reach its database is not ready");
        healthAfter.Should().Be(HttpStatusCode.OK, "readiness returns with the database");

        var duringOutage = all.Where(o => o.Period == Period.Outage).ToList();
        duringOutage.Should().NotBeEmpty();
        duringOutage.Where(o => (int)o.Status >= 500).Should().OnlyContain(o => o.Status == HttpStatusCode.ServiceUnavailable
            && o.ContentType == "application/problem+json", "a database outage is a 503 problem detail, never a bare 500");
        duringOutage.Count(o => o.Status == HttpStatusCode.ServiceUnavailable).Should().BeGreaterThan(duringOutage.Count / 2,
            "with the database down most requests cannot be served");
        recoveredAfter.Should().BeLessThan(TimeSpan.FromSeconds(60), "requests succeed again once the database is back");
        all.Where(o => o.SentAt > recoveredAt).Should().NotBeEmpty().And
            .OnlyContain(o => o.Status == HttpStatusCode.OK || o.Status == HttpStatusCode.Created, "after recovery every request succeeds");

        // No half writes: every metric has its first version; every 201 is there; a create refused during the outage left nothing or all.
        await using var connection = new NpgsqlConnection(services.Infrastructure.Database("metricsdb"));
        var withoutFirstVersion = await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM metrics m
            WHERE NOT EXISTS (SELECT 1 FROM metric_versions v WHERE v.metric_id = m.id AND v.version = 1)
               OR NOT EXISTS (SELECT 1 FROM metric_versions v WHERE v.metric_id = m.id AND v.version = m.current_version)
            """);
        var storedNames = (await connection.QueryAsync<string>("SELECT name FROM metrics WHERE name LIKE 'Outage %'")).ToHashSet();
        var created = all.Where(o => o.Status == HttpStatusCode.Created).Select(o => o.MetricName!).ToList();
        var refusedButStored = all.Where(o => o.Request == "create" && o.Status != HttpStatusCode.Created && storedNames.Contains(o.MetricName!)).Count();
        output.WriteLine($"Metrics created (201): {created.Count}; stored: {storedNames.Count}; refused but stored anyway: {refusedButStored}; without a complete version: {withoutFirstVersion}");

        withoutFirstVersion.Should().Be(0);
        storedNames.Should().Contain(created);
    }

    /// <summary>Polls the Metrics service's GET /health until it answers <paramref name="expected"/> or the bound passes; returns the last answer.</summary>
    async Task<HttpStatusCode> WaitForHealthAsync(HttpStatusCode expected, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        var status = HttpStatusCode.RequestTimeout;
        while (DateTime.UtcNow < deadline)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                using var response = await services.Metrics.GetAsync("/health", timeout.Token);
                status = response.StatusCode;
            }
            catch (OperationCanceledException)
            {
                status = HttpStatusCode.RequestTimeout;
            }
            if (status == expected) break;
            await Task.Delay(100);
        }
        return status;
    }

    static async Task<Outcome> SendAsync(Period period, TimeSpan sentAt, string request, string? name, Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            using var response = await send();
            return new(period, sentAt, request, response.StatusCode, response.Content.Headers.ContentType?.MediaType, name);
        }
        catch (TaskCanceledException)
        {
            return new(period, sentAt, request, HttpStatusCode.RequestTimeout, null, name);
        }
    }

    static object NewMetric(string name) => new
    {
        name, description = "Made while the database comes and goes.", type = "quantitative", scaleMin = 1, scaleMax = 5, scope = "turn",
        systemPrompt = "You judge tone.", userPromptTemplate = "User: {{input}}\nAssistant: {{output}}\nScore the tone from 1 to 5.",
        author = "faults@example.com",
    };
}
