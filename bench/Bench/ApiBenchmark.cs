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

    /// <summary>
    /// Measures the service twice, on fresh stacks: with its response cache switched off (Alignment:ResponseCache:Enabled
    /// = false: every request reads, deserialises and serialises the run documents, the code path before the cache) and
    /// on (the default), so both figures come from the same machine state. Smoke scale measures only the default.
    /// </summary>
    public static async Task RunAsync(Scale scale, Report report)
    {
        bool[] variants = scale.Name == "smoke" ? [true] : [false, true];
        foreach (var cached in variants)
        {
            // Child processes inherit this process's environment; ServiceStack gives no per-run settings.
            Environment.SetEnvironmentVariable("Alignment__ResponseCache__Enabled", cached ? "true" : "false");
            try
            {
                await RunVariantAsync(scale, report, cached ? "" : "cache off: ");
            }
            finally
            {
                Environment.SetEnvironmentVariable("Alignment__ResponseCache__Enabled", null);
            }
        }
    }

    static async Task RunVariantAsync(Scale scale, Report report, string prefix)
    {
        await using var stack = await ServiceStack.StartAsync(alignmentInstances: 1);
        var runs = await SagaBenchmark.RunManyAsync(stack, runs: 5, scale.SagaRowsPerEvaluation, TimeSpan.FromSeconds(60));
        if (runs.RunIds.Count == 0) throw new InvalidOperationException("No run could be started for the API benchmark.");
        using var http = Measure.Client(stack.Alignment[0].Address, maxConnections: 512);
        string[] paths = [$"api/alignment-runs/{runs.RunIds[0]}", $"api/metrics/{RowGenerator.MetricId}/alignment-runs"];
        var service = stack.Alignment[0].ProcessId;

        // Warm-up at a modest rate.
        await LoadAsync(http, paths, 100, TimeSpan.FromSeconds(2));
        await LoadAsync(http, ["alive"], 100, TimeSpan.FromSeconds(1));

        // Service time without queueing: one request at a time, so each figure is what one request costs end to end
        // (client, loopback, token validation, endpoint). /alive with and without the bearer token isolates the cost of
        // validating the token, which every authenticated request pays.
        using var anonymous = new HttpClient { BaseAddress = stack.Alignment[0].Address };
        var serial = new (string Label, HttpClient Client, string Path)[]
        {
            ("GET run", http, paths[0]), ("GET history", http, paths[1]), ("GET /alive with token", http, "alive"), ("GET /alive without token", anonymous, "alive"),
        };
        var serialCount = scale.Name == "smoke" ? 20 : 500;
        foreach (var (_, client, path) in serial) await SerialAsync(client, path, serialCount / 5);
        var results = new List<(string Label, SerialResult Result, double CpuMs)>();
        foreach (var (label, client, path) in serial)
        {
            var cpu = CpuMilliseconds(service);
            var one = await SerialAsync(client, path, serialCount);
            results.Add((label, one, (CpuMilliseconds(service) - cpu) / serialCount));
        }
        var floor0 = results[^1].Result;
        foreach (var (label, one, cpuMs) in results)
            report.Add(new Figure(Name, $"{prefix}serial median, {label}", one.P50, "ms")
            {
                Reference = floor0.P50, ReferenceName = "GET /alive without token",
                Note = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"p90 {one.P90:0.###} ms, service CPU {cpuMs:0.###} ms per request, {serialCount} requests one at a time"),
            });

        foreach (var rate in scale.ApiRates)
        {
            var floor = await LoadAsync(http, ["alive"], rate, scale.ApiDuration);
            var cpu = CpuMilliseconds(service);
            var api = await LoadAsync(http, paths, rate, scale.ApiDuration);
            var cpuPerRequest = (CpuMilliseconds(service) - cpu) / Math.Max(api.Completed, 1);
            var target = rate == 500 ? 20 : (double?)null;
            report.Add(new Figure(Name, $"{prefix}p50 at {rate} rps (run + history)", api.P50, "ms") { Reference = floor.P50, ReferenceName = "GET /alive p50" });
            report.Add(new Figure(Name, $"{prefix}p99 at {rate} rps (run + history)", api.P99, "ms")
            {
                Reference = floor.P99, ReferenceName = "GET /alive p99", TargetMax = target,
                Note = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{api.Completed:N0} requests, {api.Errors} errors, achieved {api.AchievedRate:0} rps, service CPU {cpuPerRequest:0.###} ms per request"),
            });
            string[] labels = ["run", "history"];
            for (var p = 0; p < paths.Length; p++)
                report.Add(new Figure(Name, $"{prefix}{labels[p]} only, p50 / p99 at {rate} rps", api.PerPath[p].P50, "ms")
                {
                    Note = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"p99 {api.PerPath[p].P99:0.###} ms"),
                });
        }
    }

    /// <summary>User + system CPU time the process has used, from /proc (clock ticks of 10 ms).</summary>
    static double CpuMilliseconds(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // Fields after the command name, which is in parentheses and may contain spaces: utime and stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return ticks * 10.0;
    }

    public sealed record SerialResult(double P50, double P90);

    static async Task<SerialResult> SerialAsync(HttpClient http, string path, int count)
    {
        var latencies = new double[count];
        for (var i = 0; i < count; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead);
            response.EnsureSuccessStatusCode();
            latencies[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(latencies);
        return new SerialResult(Measure.Percentile(latencies, 50), Measure.Percentile(latencies, 90));
    }

    public sealed record PathResult(double P50, double P99);

    public sealed record LoadResult(double P50, double P99, int Completed, int Errors, double AchievedRate)
    {
        /// <summary>Percentiles per path, in the order the paths were given.</summary>
        public IReadOnlyList<PathResult> PerPath { get; init; } = [];
    }

    /// <summary>Sends requests to <paramref name="paths"/> in turn at <paramref name="rate"/> per second for <paramref name="duration"/>.</summary>
    public static async Task<LoadResult> LoadAsync(HttpClient http, IReadOnlyList<string> paths, int rate, TimeSpan duration)
    {
        var latencies = new ConcurrentBag<(int Path, double Milliseconds)>();
        var errors = 0;
        var total = (int)(rate * duration.TotalSeconds);
        var pending = new List<Task>(total);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            var scheduled = TimeSpan.FromSeconds((double)i / rate);
            var wait = scheduled - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait);
            var index = i % paths.Count;
            var path = paths[index];
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
                latencies.Add((index, (clock.Elapsed - scheduled).TotalMilliseconds));
            }));
        }
        await Task.WhenAll(pending);
        var elapsed = clock.Elapsed.TotalSeconds;
        var sorted = latencies.Select(l => l.Milliseconds).Order().ToArray();
        var perPath = Enumerable.Range(0, paths.Count).Select(p =>
        {
            var one = latencies.Where(l => l.Path == p).Select(l => l.Milliseconds).Order().ToArray();
            return new PathResult(Measure.Percentile(one, 50), Measure.Percentile(one, 99));
        }).ToList();
        return new LoadResult(Measure.Percentile(sorted, 50), Measure.Percentile(sorted, 99), sorted.Length, errors, sorted.Length / elapsed)
        {
            PerPath = perPath,
        };
    }
}
