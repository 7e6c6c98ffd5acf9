using MetricAlignment.Annotations.Metrics;

namespace MetricAlignment.Annotations.Tests;

/// <summary>The Metrics service as the tests need it: the dataset's four 1-5 metrics and one qualitative metric.</summary>
public sealed class FakeMetricCatalog : IMetricCatalog
{
    public static readonly MetricDefinition Relevance = Quantitative("relevance", "0b5c3c5e-0001-4000-8000-000000000001");
    public static readonly MetricDefinition Fluency = Quantitative("fluency", "0b5c3c5e-0002-4000-8000-000000000002");
    public static readonly MetricDefinition Coherence = Quantitative("coherence", "0b5c3c5e-0003-4000-8000-000000000003");
    public static readonly MetricDefinition Consistency = Quantitative("consistency", "0b5c3c5e-0004-4000-8000-000000000004");
    public static readonly MetricDefinition Tone = new()
    {
        Id = Guid.Parse("0b5c3c5e-0005-4000-8000-000000000005"),
        Key = "tone",
        Type = MetricType.Qualitative,
        Labels = ["formal", "casual", "rude"],
    };

    static readonly MetricDefinition[] All = [Relevance, Fluency, Coherence, Consistency, Tone];

    /// <summary>Every workspace sees the same metrics here, as it does the Metrics service's built-in ones.</summary>
    public Task<MetricDefinition?> FindAsync(string workspace, string idOrKey, CancellationToken cancellationToken) =>
        Task.FromResult(All.FirstOrDefault(m => m.Matches(idOrKey)));

    static MetricDefinition Quantitative(string key, string id) => new()
    {
        Id = Guid.Parse(id),
        Key = key,
        Type = MetricType.Quantitative,
        ScaleMin = 1,
        ScaleMax = 5,
    };
}
