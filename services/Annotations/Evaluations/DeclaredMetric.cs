using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Resolution;

namespace MetricAlignment.Annotations.Evaluations;

/// <summary>A metric an evaluation scores, with the rule that reconciles its reviewers.</summary>
public sealed record DeclaredMetric(MetricDefinition Definition, ResolutionRule Rule)
{
    public static string TypeName(MetricType type) => type == MetricType.Qualitative ? "qualitative" : "quantitative";

    /// <summary>
    /// Looks the metrics up in the workspace's catalog and checks the rules fit them. Errors are described in words a client
    /// can act on; the declarations are returned only when there is none.
    /// </summary>
    public static async Task<(IReadOnlyList<DeclaredMetric> Metrics, IReadOnlyList<string> Errors)> ResolveAsync(
        string workspace, IEnumerable<(string? Metric, string? Resolution)> declarations, IMetricCatalog catalog,
        CancellationToken cancellationToken)
    {
        var metrics = new List<DeclaredMetric>();
        var errors = new List<string>();
        var index = 0;
        foreach (var (metric, resolution) in declarations)
        {
            var at = $"metrics[{index++}]";
            if (string.IsNullOrWhiteSpace(metric))
            {
                errors.Add($"{at}: metric (key or id) is required");
                continue;
            }
            if (!ResolutionMethods.TryParseRule(resolution, out var rule))
            {
                errors.Add($"{at}: resolution '{resolution}' is not one of none, median, mean, majority");
                continue;
            }
            var definition = await catalog.FindAsync(workspace, metric, cancellationToken);
            if (definition is null)
            {
                errors.Add($"{at}: unknown metric '{metric}'");
                continue;
            }
            if (!ResolutionPolicy.Applies(rule, definition.Type == MetricType.Quantitative))
            {
                errors.Add($"{at}: resolution '{ResolutionMethods.Of(rule)}' needs numbers; metric '{definition.Key}' is qualitative (use majority or none)");
                continue;
            }
            if (metrics.Any(m => m.Definition.Id == definition.Id))
            {
                errors.Add($"{at}: metric '{definition.Key}' is declared twice");
                continue;
            }
            metrics.Add(new DeclaredMetric(definition, rule));
        }
        return (errors.Count == 0 ? metrics : [], errors);
    }
}
