using System.Collections.Concurrent;
using System.Diagnostics;

namespace MetricAlignment.Bench;

/// <summary>
/// Benchmark 4: GET a run and a metric's run history at fixed request rates from this process (open loop: requests
/// leave on schedule whether or not earlier ones have answered, and latency counts from the scheduled time, so a
/// stall is not hidden by coordinated omission), against GET /alive on the same service at the same rate, the
/// floor of its HTTP stack.
/// </summary>
public static class ApiBenchmark
{
    public const string Name = "api";

    public static async Task RunAsync(Scale scale, Report report)
    {
        await using var stack = await ServiceStack.StartAsync(alignmentInstances: 1);
        var runs = await SagaBenchmark.RunManyAsync(stack, runs: 5, scale.SagaRowsPerEvaluation, TimeSpan.FromSeconds(60));
        if (runs.RunIds.Count == 0) throw new InvalidOperationException("No run could be started for the API benchmark.");
        using var http = Measure.Client(stack.Alignment[0].Address, maxConnections: 512);
        string[] paths = [$"api/alignment-runs/{runs.RunIds[0]}", $"api/metrics/{RowGenerator.MetricId}/alignment-runs"];

        // Warm-up at a modest rate.
        await LoadAsync(http, paths, 100, TimeSpan.FromSeconds(2));
        await LoadAsync(http, ["alive"], 100, TimeSpan.FromSeconds(1));

        foreach (var rate in scale.ApiRates)
        {
            var floor = await LoadAsync(http, ["alive"], rate, scale.ApiDuration);
            var api = await LoadAsync(http, paths, rate, scale.ApiDuration);
            var target = rate == 500 ? 20 : (double?)null;
            report.Add(new Figure(Name, $"p50 at {rate} rps (run + history)", api.P50, "ms") { Reference = floor.P50, ReferenceName = "GET /alive p50" });
            report.Add(new Figure(Name, $"p99 at {rate} rps (run + history)", api.P99, "ms")
            {
                Reference = floor.P99, ReferenceName = "GET /alive p99", TargetMax = target,
                Note = $"{api.Completed:N0} requests, {api.Errors} errors, achieved {api.AchievedRate:0} rps",
            });
        }
    }

    public sealed record LoadResult(double P50, double P99, int Completed, int Errors, double AchievedRate);

    /// <summary>Sends requests to <paramref name="paths"/> in turn at <paramref name="rate"/> per second for <paramref name="duration"/>.</summary>
    public static async Task<LoadResult> LoadAsync(HttpClient http, IReadOnlyList<string> paths, int rate, TimeSpan duration)
    {
        var latencies = new ConcurrentBag<double>();
        var errors = 0;
        var total = (int)(rate * duration.TotalSeconds);
        var pending = new List<Task>(total);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            var scheduled = TimeSpan.FromSeconds((double)i / rate);
            var wait = scheduled - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait);
            var path = paths[i % paths.Count];
            pending.Add(Task.Run(async () =>
            {
                try
                {
                    using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead);
                    if (!response.IsSuccessStatusCode) Interlocked.Increment(ref errors);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
                latencies.Add((clock.Elapsed - scheduled).TotalMilliseconds);
            }));
        }
        await Task.WhenAll(pending);
        var elapsed = clock.Elapsed.TotalSeconds;
        var sorted = latencies.Order().ToArray();
        return new LoadResult(Measure.Percentile(sorted, 50), Measure.Percentile(sorted, 99), sorted.Length, errors, sorted.Length / elapsed);
    }
}
