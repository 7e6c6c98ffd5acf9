namespace MetricAlignment.AuditLog.Audit;

/// <summary>
/// The audit log, kept in memory (a sample: a real service would keep it in its own table with a unique index on
/// the same two keys). Idempotent: delivery is at least once, so a redelivered message (same message id) and a
/// republished event (same event type and run, new message id) are both recorded once.
/// </summary>
public sealed class AuditTrail
{
    readonly Lock gate = new();
    readonly List<AuditEntry> entries = [];
    readonly HashSet<Guid> messageIds = [];
    readonly HashSet<(string EventType, Guid RunId)> runEvents = [];

    /// <summary>Records the entry unless it was recorded before; returns whether it was new.</summary>
    public bool TryRecord(AuditEntry entry)
    {
        lock (gate)
        {
            if (messageIds.Contains(entry.MessageId) || runEvents.Contains((entry.EventType, entry.RunId))) return false;
            messageIds.Add(entry.MessageId);
            runEvents.Add((entry.EventType, entry.RunId));
            entries.Add(entry);
            return true;
        }
    }

    /// <summary>One workspace's entries, newest first, optionally only one run's.</summary>
    public IReadOnlyList<AuditEntry> List(string workspace, Guid? runId, int limit)
    {
        lock (gate)
        {
            return entries
                .Where(entry => entry.Workspace == workspace)
                .Where(entry => runId is null || entry.RunId == runId)
                .OrderByDescending(entry => entry.OccurredAt)
                .ThenByDescending(entry => entry.ReceivedAt)
                .Take(limit)
                .ToList();
        }
    }
}
