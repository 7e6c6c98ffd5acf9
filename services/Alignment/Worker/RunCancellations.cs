using System.Collections.Concurrent;

namespace MetricAlignment.Alignment.Worker;

/// <summary>The runs executing in this process, so that a cancellation heard by this instance can stop its run.</summary>
public sealed class RunCancellations
{
    readonly ConcurrentDictionary<Guid, CancellationTokenSource> running = new();

    public CancellationTokenSource Register(Guid runId, CancellationToken linkedTo)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(linkedTo);
        running[runId] = source;
        return source;
    }

    public void Unregister(Guid runId, CancellationTokenSource source) =>
        running.TryRemove(new KeyValuePair<Guid, CancellationTokenSource>(runId, source));

    /// <summary>True when the run was executing here.</summary>
    public bool Cancel(Guid runId)
    {
        if (!running.TryGetValue(runId, out var source)) return false;
        try { source.Cancel(); }
        catch (ObjectDisposedException) { return false; }
        return true;
    }

    public bool IsRunning(Guid runId) => running.ContainsKey(runId);
}
