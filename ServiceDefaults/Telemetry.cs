using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// The project's own activity source and meter, registered with OpenTelemetry by every service, with the instruments
/// the services record on. Instruments are static so that a class without DI (the state machine's helpers, the LLM
/// provider) can record; OpenTelemetry picks them up by the meter name. Names and tags are listed in docs/observability.md.
/// </summary>
public static class Telemetry
{
    public const string ActivitySourceName = "MetricAlignment";
    public const string MeterName = "MetricAlignment";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);
    public static readonly Meter Meter = new(MeterName);

    /// <summary>Tag names shared by spans, metrics and log scopes.</summary>
    public static class Tags
    {
        public const string RunId = "run.id";
        /// <summary>The run's workspace: telemetry is shared by all workspaces, so a span or log line says whose run it was.</summary>
        public const string Workspace = "workspace";
        public const string MetricId = "metric.id";
        public const string Phase = "phase";
        public const string Attempt = "attempt";
        public const string Outcome = "outcome";
        public const string Provider = "provider";
        public const string Model = "model";
        public const string Kind = "kind";
    }

    /// <summary>Runs by how they ended (aligned, error, cancelled) or were decided (accepted, discarded).</summary>
    public static readonly Counter<long> RunOutcomes = Meter.CreateCounter<long>(
        "alignment.runs", "{run}", "Alignment runs by outcome: aligned, error, cancelled, accepted, discarded.");

    public static readonly Histogram<double> PhaseDuration = Meter.CreateHistogram<double>(
        "alignment.phase.duration", "s", "How long one phase of a run attempt took, by phase.");

    public static readonly Histogram<long> RunDisagreements = Meter.CreateHistogram<long>(
        "alignment.run.disagreements", "{disagreement}", "Judge-versus-human disagreements found by an aligned run.");

    public static readonly Counter<long> LlmTokens = Meter.CreateCounter<long>(
        "llm.tokens", "{token}", "Tokens spent on model calls, by provider, model and kind (prompt or completion).");

    public static readonly Histogram<double> LlmCallDuration = Meter.CreateHistogram<double>(
        "llm.call.duration", "s", "Latency of one model call including its retries, by provider and model.");

    /// <summary>Records a run's outcome; <paramref name="outcome"/> is one of aligned, error, cancelled, accepted, discarded.</summary>
    public static void RecordRunOutcome(string outcome) =>
        RunOutcomes.Add(1, new KeyValuePair<string, object?>(Tags.Outcome, outcome));

    public static void RecordPhaseDuration(string phase, TimeSpan elapsed) =>
        PhaseDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>(Tags.Phase, phase));

    /// <summary>A log scope carrying the run and metric ids (and the workspace when given), so every line logged inside names them.</summary>
    public static Dictionary<string, object?> RunScope(Guid runId, Guid? metricId = null, int? attempt = null, string? workspace = null)
    {
        var scope = new Dictionary<string, object?> { ["RunId"] = runId };
        if (metricId is { } metric) scope["MetricId"] = metric;
        if (attempt is { } value) scope["Attempt"] = value;
        if (!string.IsNullOrEmpty(workspace)) scope["Workspace"] = workspace;
        return scope;
    }
}
