using System.Collections.Concurrent;
using System.Diagnostics;

namespace MetricAlignment.Observability.Tests;

/// <summary>Every span that ends in this test process, from every host in it (ActivitySources are process-wide).</summary>
public sealed class SpanCollector : IDisposable
{
    readonly ActivityListener listener;
    readonly ConcurrentQueue<Activity> stopped = new();

    public SpanCollector()
    {
        listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
    }

    public IReadOnlyList<Activity> Spans => stopped.ToArray();

    /// <summary>Waits until a span matching <paramref name="match"/> has ended; fails with the spans seen so far otherwise.</summary>
    public async Task<Activity> WaitForAsync(Func<Activity, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var found = stopped.FirstOrDefault(match);
            if (found is not null) return found;
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"No span for {what}. Spans seen:\n" + string.Join("\n", stopped.Select(Describe)));
            await Task.Delay(100);
        }
    }

    public static string Describe(Activity span) =>
        $"{span.Source.Name} {span.Kind} '{span.DisplayName}' trace={span.TraceId} " +
        string.Join(" ", span.TagObjects.Select(t => $"{t.Key}={t.Value}"));

    public static bool HasTagContaining(Activity span, string text) =>
        span.TagObjects.Any(t => t.Value?.ToString()?.Contains(text, StringComparison.Ordinal) == true);

    public void Dispose() => listener.Dispose();
}
