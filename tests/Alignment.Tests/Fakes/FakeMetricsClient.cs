using System.Collections.Concurrent;
using MetricAlignment.Alignment.Clients;

namespace MetricAlignment.Alignment.Tests.Fakes;

public sealed class FakeMetricsClient : IMetricsClient
{
    public ConcurrentDictionary<Guid, MetricInfo> Metrics { get; } = new();

    public Task<MetricInfo?> GetMetricAsync(Guid metricId, CancellationToken cancellationToken) =>
        Task.FromResult(Metrics.TryGetValue(metricId, out var metric) ? metric : null);

    public MetricInfo Add(string kind = "built_in", int version = 1)
    {
        var id = Guid.NewGuid();
        var metric = new MetricInfo
        {
            Id = id, Key = $"faithfulness-{id:N}"[..20], Name = "Faithfulness", Kind = kind, Type = "quantitative", ScaleMin = 1, ScaleMax = 5,
            CurrentVersion = version,
            Current = new MetricVersionInfo { Version = version, SystemPrompt = "You grade faithfulness from 1 to 5.", UserPromptTemplate = "{{output}}" },
        };
        Metrics[id] = metric;
        return metric;
    }
}
