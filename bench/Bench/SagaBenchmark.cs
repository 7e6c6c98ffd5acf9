using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MetricAlignment.Bench;

/// <summary>The reference message: what MassTransit alone carries, with no saga behind it.</summary>
public sealed record BenchPing
{
    public required Guid Id { get; init; }
    public required int Index { get; init; }
}

public sealed class PingCounter
{
    int consumed;
    public TaskCompletionSource AllConsumed { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Expected { get; private set; }

    public void Expect(int count)
    {
        consumed = 0;
        Expected = count;
        AllConsumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Consumed()
    {
        if (Interlocked.Increment(ref consumed) == Expected) AllConsumed.TrySetResult();
    }
}

public sealed class BenchPingConsumer(PingCounter counter) : IConsumer<BenchPing>
{
    public Task Consume(ConsumeContext<BenchPing> context)
    {
        counter.Consumed();
        return Task.CompletedTask;
    }
}

/// <summary>
/// Benchmark 3: K alignment runs started at once (builtin distiller, small evaluation) until every one is aligned,
/// against MassTransit publishing and consuming K messages on the same broker with no saga. Then with two
/// Alignment instances.
/// </summary>
public static class SagaBenchmark
{
    public const string Name = "saga";

    public static async Task RunAsync(Scale scale, Report report, int? runsOverride = null)
    {
        var runs = runsOverride ?? scale.SagaRuns;
        foreach (var instances in new[] { 1, 2 })
        {
            await using var stack = await ServiceStack.StartAsync(instances);
            var reference = await MassTransitReferenceAsync(runs);
            var outcome = await RunManyAsync(stack, runs, scale.SagaRowsPerEvaluation, Deadline(runs));
            report.Add(new Figure(Name, $"{runs:N0} runs to aligned, {instances} Alignment instance(s)", outcome.Elapsed.TotalSeconds, "s")
            {
                Reference = reference.TotalSeconds, ReferenceName = $"MassTransit {runs:N0} messages, no saga", TargetRatio = 3,
            });
            report.Add(new Figure(Name, $"lost or stuck runs, {instances} instance(s)", outcome.Lost + outcome.Stuck, "runs")
            {
                TargetMax = 1, Note = $"{outcome.Aligned} aligned, {outcome.Lost} lost, {outcome.Stuck} stuck, {outcome.Failed} error",
            });
        }
    }

    static TimeSpan Deadline(int runs) => TimeSpan.FromSeconds(Math.Max(60, runs * 1.0));

    public sealed record Outcome(TimeSpan Elapsed, int Aligned, int Lost, int Stuck, int Failed, IReadOnlyList<Guid> RunIds, Guid EvaluationId);

    /// <summary>Imports one small evaluation, starts <paramref name="runs"/> runs at once, waits until all are settled.</summary>
    public static async Task<Outcome> RunManyAsync(ServiceStack stack, int runs, int rowsPerEvaluation, TimeSpan deadline)
    {
        using var annotations = Measure.Client(stack.Annotations.Address);
        var evaluationId = await Measure.ImportAsync(annotations, "saga", rowsPerEvaluation, seed: 7);
        var clients = stack.Alignment.Select(a => Measure.Client(a.Address, maxConnections: 1_024)).ToList();
        try
        {
            // Warm-up run: JIT, connection pools, endpoints.
            var warmUp = await StartAsync(clients[0], evaluationId);
            if (warmUp is not null) await WaitAsync(stack.AlignmentDatabase, [warmUp.Value], TimeSpan.FromSeconds(60));

            var watch = Stopwatch.StartNew();
            var started = await Task.WhenAll(Enumerable.Range(0, runs).Select(i => StartAsync(clients[i % clients.Count], evaluationId)));
            var ids = started.Where(id => id is not null).Select(id => id!.Value).ToList();
            var states = await WaitAsync(stack.AlignmentDatabase, ids, deadline);
            var elapsed = watch.Elapsed;
            var aligned = states.Count(s => s.Value == "Aligned");
            var failed = states.Count(s => s.Value == "Error");
            var lost = runs - ids.Count + ids.Count(id => !states.ContainsKey(id));
            var stuck = states.Count(s => s.Value is not ("Aligned" or "Error"));
            return new Outcome(elapsed, aligned, lost, stuck, failed, ids, evaluationId);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    static async Task<Guid?> StartAsync(HttpClient alignment, Guid evaluationId)
    {
        try
        {
            using var response = await alignment.PostAsJsonAsync("api/alignment-runs",
                new { metricId = RowGenerator.MetricId, evaluationIds = new[] { evaluationId }, reflectionProvider = "builtin" });
            if (response.StatusCode != HttpStatusCode.Accepted) return null;
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Polls the saga table until every run is aligned or in error, or the deadline passes; returns the states.</summary>
    static async Task<Dictionary<Guid, string>> WaitAsync(string alignmentDatabase, IReadOnlyList<Guid> ids, TimeSpan deadline)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(alignmentDatabase);
        await connection.OpenAsync();
        while (true)
        {
            var states = new Dictionary<Guid, string>();
            await using (var command = new NpgsqlCommand("SELECT correlation_id, current_state FROM alignment_runs WHERE correlation_id = ANY(@ids)", connection))
            {
                command.Parameters.AddWithValue("ids", ids.ToArray());
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) states[reader.GetGuid(0)] = reader.GetString(1);
            }
            if (states.Count == ids.Count && states.Values.All(s => s is "Aligned" or "Error")) return states;
            if (watch.Elapsed > deadline) return states;
            await Task.Delay(100);
        }
    }

    /// <summary>K persistent messages published at once and consumed, with MassTransit's defaults, on a fresh vhost.</summary>
    public static async Task<TimeSpan> MassTransitReferenceAsync(int messages)
    {
        var vhost = await TestInfrastructure.CreateVirtualHostAsync("bench-mt");
        try
        {
            var broker = new Uri(vhost);
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton<PingCounter>();
            services.AddMassTransit(bus =>
            {
                bus.ConfigureUsageTelemetryOptions(options => options.Enabled = false);
                bus.AddConsumer<BenchPingConsumer>();
                bus.UsingRabbitMq((context, cfg) =>
                {
                    var credentials = broker.UserInfo.Split(':', 2);
                    cfg.Host(broker.Host, (ushort)broker.Port, Uri.UnescapeDataString(broker.AbsolutePath.Trim('/')), host =>
                    {
                        host.Username(Uri.UnescapeDataString(credentials[0]));
                        host.Password(Uri.UnescapeDataString(credentials[1]));
                        host.PublisherConfirmation = true;
                    });
                    cfg.ConfigureEndpoints(context);
                });
            });
            await using var provider = services.BuildServiceProvider();
            var busControl = provider.GetRequiredService<IBusControl>();
            await busControl.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            try
            {
                var counter = provider.GetRequiredService<PingCounter>();
                await PublishAndConsumeAsync(busControl, counter, 50);
                return await PublishAndConsumeAsync(busControl, counter, messages);
            }
            finally
            {
                await busControl.StopAsync();
            }
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(vhost);
        }
    }

    static async Task<TimeSpan> PublishAndConsumeAsync(IBus bus, PingCounter counter, int messages)
    {
        counter.Expect(messages);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, messages).Select(i => bus.Publish(new BenchPing { Id = Guid.NewGuid(), Index = i })));
        await counter.AllConsumed.Task.WaitAsync(TimeSpan.FromMinutes(5));
        return watch.Elapsed;
    }
}
