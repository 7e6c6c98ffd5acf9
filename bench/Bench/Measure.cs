using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Bench;

public static class Measure
{
    public static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action();
        return watch.Elapsed;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Nearest-rank percentile of <paramref name="sorted"/> (ascending), p in 0..100.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0) return double.NaN;
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static double Megabytes(long bytes) => bytes / (1024.0 * 1024.0);

    public static long OwnPeakResidentBytes => ServiceProcess.ReadStatusKilobytes(Environment.ProcessId, "VmHWM") * 1024;

    public static bool ResetOwnPeak() => ServiceProcess.ResetPeak(Environment.ProcessId);

    /// <summary>
    /// A client of a bench service, acting as an admin of the default workspace with a token the services trust
    /// (ServiceStack gives them the test issuer and key), valid for longer than the longest benchmark.
    /// </summary>
    public static HttpClient Client(Uri address, int maxConnections = 64)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = maxConnections, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = address,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        client.DefaultRequestHeaders.Authorization = new("Bearer", BenchToken.Value);
        return client;
    }

    // One token for the whole process: signing it per client would add to the figures nothing the services do.
    static readonly Lazy<string> BenchToken = new(() =>
        TestTokens.For([Roles.Admin], TestTokens.Workspace, "bench", TimeSpan.FromHours(24)));

    /// <summary>Posts an NDJSON import of generated rows to the Annotations service; returns the evaluation id.</summary>
    public static async Task<Guid> ImportAsync(HttpClient annotations, string name, int rows, int seed, CancellationToken cancellationToken = default)
    {
        using var content = new NdjsonImportContent(name, RowGenerator.Rows(rows, seed));
        content.Headers.ContentType = new("application/x-ndjson");
        using var response = await annotations.PostAsync("api/evaluations/import", content, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created)
            throw new InvalidOperationException($"Import of {rows} rows answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        var stored = body.GetProperty("rows").GetInt32();
        if (stored != rows) throw new InvalidOperationException($"Import stored {stored} rows instead of {rows}.");
        return body.GetProperty("evaluationId").GetGuid();
    }
}
