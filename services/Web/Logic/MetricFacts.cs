using MetricAlignment.Web.Clients;

namespace MetricAlignment.Web.Logic;

public static class MetricFacts
{
    /// <summary>"1–5 scale" or "labels: a, b, c".</summary>
    public static string Scale(MetricSummary metric) => metric.IsQuantitative
        ? $"{ThresholdRules.Format(metric.ScaleMin ?? 0)}–{ThresholdRules.Format(metric.ScaleMax ?? 0)} scale"
        : $"labels: {string.Join(", ", metric.Labels ?? [])}";

    public static string Kind(MetricSummary metric) => metric.IsBuiltIn ? "built-in" : "custom";
}
