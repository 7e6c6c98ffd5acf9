using System;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace MetricAlignment.FaultHooks;

/// <summary>
/// Freezes one thread of the process it is loaded into at a chosen point of its work, so that a test can SIGKILL the
/// process exactly there: the service's code is not changed, the point is recognised from the spans it records anyway.
/// </summary>
/// <remarks>
/// <para><c>FAULTHOOK_HOLD_PHASE=&lt;phase&gt;[:after|:before]</c>: an alignment worker inside that phase has published (and
/// the broker confirmed) a message, i.e. a MassTransit producer span under the worker's <c>alignment.phase</c> span tagged
/// with the phase has stopped (<c>after</c>, the default), or is about to publish one, nothing has left the process yet
/// (<c>before</c>: the producer span starts). The first publish of a phase is the AlignmentRunProgressed report that records
/// the phase; Finalizing has none, its first publish is the run's result.</para>
/// <para><c>FAULTHOOK_HOLD_OUTBOX=&lt;message type name&gt;[:before|:after]</c>: the outbox dispatcher is publishing a
/// committed message of that type. <c>before</c> (the default): the MassTransit producer span under the dispatcher's
/// <c>outbox publish</c> span starts, nothing has left the process yet. <c>after</c>: the <c>outbox publish</c> span
/// stops, the broker confirmed the message, and the dispatcher has not marked it dispatched.</para>
/// <para>The first match is held, forever, after writing a line describing it to the file <c>FAULTHOOK_SIGNAL</c> names;
/// nothing else is held, so the rest of the process (other runs, the saga, heartbeats, the API) goes on.</para>
/// </remarks>
public static class FaultHold
{
    // The names the services give their spans: string constants here, so that the hook loads into any process.
    const string ServiceSource = "MetricAlignment";
    const string MassTransitSource = "MassTransit";
    const string PhaseOperation = "alignment.phase";
    const string PhaseTag = "phase";
    const string OutboxOperation = "outbox publish";
    const string MessageTypeTag = "messaging.message.type";
    const string MessageIdTag = "messaging.message.id";
    // MassTransit's versions name the message id tag after different editions of the OpenTelemetry messaging conventions.
    static readonly string[] MessageIdTags = [MessageIdTag, "messaging.message_id", "messaging.masstransit.message_id"];

    static ActivityListener? listener;
    static string? signalPath;
    static int held;

    public static void InstallFromEnvironment()
    {
        var phaseSetting = Setting("FAULTHOOK_HOLD_PHASE");
        var outbox = Setting("FAULTHOOK_HOLD_OUTBOX");
        signalPath = Setting("FAULTHOOK_SIGNAL");
        if (phaseSetting is null && outbox is null) return;
        if (signalPath is null)
            throw new InvalidOperationException("FAULTHOOK_SIGNAL must name the file the fault hook writes when it holds.");
        var (phase, phaseBefore) = Target(phaseSetting, "FAULTHOOK_HOLD_PHASE", beforeByDefault: false);
        var (outboxType, outboxBefore) = Target(outbox, "FAULTHOOK_HOLD_OUTBOX", beforeByDefault: true);
        var outboxAfter = !outboxBefore;

        listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is ServiceSource or MassTransitSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = activity =>
            {
                if (phase is not null && phaseBefore && IsProducer(activity) && InPhase(activity, phase))
                    Hold($"phase {phase} before {activity.DisplayName}");
                if (outboxType is not null && !outboxAfter && IsProducer(activity)
                    && Ancestor(activity, a => IsOutboxPublishOf(a, outboxType)) is { } publish)
                    Hold($"outbox {outboxType} before publish, message id {publish.GetTagItem(MessageIdTag)}");
            },
            ActivityStopped = activity =>
            {
                if (phase is not null && !phaseBefore && IsProducer(activity) && InPhase(activity, phase))
                    Hold($"phase {phase} after {activity.DisplayName}, message id {MessageId(activity)}");
                if (outboxType is not null && outboxAfter && IsOutboxPublishOf(activity, outboxType))
                    Hold($"outbox {outboxType} after publish, message id {activity.GetTagItem(MessageIdTag)}");
            },
        };
        ActivitySource.AddActivityListener(listener);
        Console.Error.WriteLine($"[fault hook] installed: phase={phaseSetting ?? "-"} outbox={outbox ?? "-"} signal={signalPath}");
    }

    /// <summary>"&lt;target&gt;[:before|:after]" split into the target and whether to hold before the publish.</summary>
    static (string? Target, bool Before) Target(string? setting, string variable, bool beforeByDefault)
    {
        if (setting is null) return (null, false);
        var parts = setting.Split(':', 2);
        var point = parts.Length == 2 ? parts[1] : beforeByDefault ? "before" : "after";
        if (point != "after" && point != "before")
            throw new InvalidOperationException($"{variable} '{setting}': the point is 'before' or 'after', not '{point}'.");
        return (parts[0], point == "before");
    }

    static string? Setting(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value && value.Trim().Length > 0 ? value.Trim() : null;

    static object? MessageId(Activity activity)
    {
        foreach (var tag in MessageIdTags)
            if (activity.GetTagItem(tag) is { } id) return id;
        return null;
    }

    static bool InPhase(Activity activity, string phase) =>
        Ancestor(activity, a => a.Source.Name == ServiceSource && a.OperationName == PhaseOperation && a.GetTagItem(PhaseTag) as string == phase) is not null;

    static bool IsProducer(Activity activity) => activity.Source.Name == MassTransitSource && activity.Kind == ActivityKind.Producer;

    static bool IsOutboxPublishOf(Activity activity, string messageType) =>
        activity.Source.Name == ServiceSource && activity.OperationName == OutboxOperation
        && activity.GetTagItem(MessageTypeTag) as string == messageType;

    static Activity? Ancestor(Activity activity, Func<Activity, bool> match)
    {
        for (var current = activity.Parent; current is not null; current = current.Parent)
            if (match(current)) return current;
        return null;
    }

    /// <summary>Blocks the calling thread for good, the first time only; the signal file is complete when it appears.</summary>
    static void Hold(string what)
    {
        if (Interlocked.Exchange(ref held, 1) != 0) return;
        var line = $"{Environment.ProcessId} {what}";
        Console.Error.WriteLine($"[fault hook] holding: {line}");
        var temporary = signalPath + ".tmp";
        File.WriteAllText(temporary, line + Environment.NewLine);
        File.Move(temporary, signalPath!, overwrite: true);
        Thread.Sleep(Timeout.Infinite);
    }
}
