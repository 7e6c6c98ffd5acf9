using System.Diagnostics;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

/// <summary>
/// One trace per run. The start request's trace flows through the messages by itself (MassTransit propagates the
/// trace context), but accept, discard, cancel and retry arrive as later requests with traces of their own. Their
/// messages are sent from a span that continues the run's trace (saved on the run when it was created) and is linked
/// both ways with the request's span, so the accept and the Metrics service applying it show up under the run.
/// </summary>
public static class RunTrace
{
    /// <summary>The W3C id of the current span, saved on a new run as the parent of its later decisions.</summary>
    public static string? CurrentParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>
    /// A span named <paramref name="name"/> in the run's trace, or null when the run has no saved trace, it is already
    /// the current trace, or nobody listens. Dispose it once the message is sent.
    /// </summary>
    public static Activity? Continue(AlignmentRunState run, string name)
    {
        if (run.TraceParent is null || !ActivityContext.TryParse(run.TraceParent, null, out var parent)) return null;
        var request = Activity.Current;
        if (request?.TraceId == parent.TraceId) return null;
        ActivityLink[]? links = request is null ? null : [new ActivityLink(request.Context)];
        var span = Telemetry.ActivitySource.StartActivity(name, ActivityKind.Internal, parent,
            [new(Telemetry.Tags.RunId, run.CorrelationId), new(Telemetry.Tags.MetricId, run.MetricId)], links);
        if (span is not null) request?.AddLink(new ActivityLink(span.Context));
        return span;
    }
}
