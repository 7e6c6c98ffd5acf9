using System.Collections.Concurrent;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Alignment.Tests.Fakes;

/// <summary>The Metrics service as the Alignment service sees it: a metric is known only in the workspace it was added to.</summary>
public sealed class FakeMetricsClient : IMetricsClient
{
    public ConcurrentDictionary<Guid, MetricInfo> Metrics { get; } = new();
    public ConcurrentDictionary<Guid, string> Workspaces { get; } = new();
    /// <summary>Every metric asked for, with the workspace it was asked in.</summary>
    public ConcurrentQueue<(string Workspace, Guid MetricId)> Calls { get; } = new();

    /// <summary>When set, every call fails with what it makes, as the HTTP client's resilience pipeline would.</summary>
    public Func<Exception>? Failure { get; set; }

    public Task<MetricInfo?> GetMetricAsync(string workspace, Guid metricId, CancellationToken cancellationToken)
    {
        Calls.Enqueue((workspace, metricId));
        if (Failure is { } failure) return Task.FromException<MetricInfo?>(failure());
        var known = Metrics.TryGetValue(metricId, out var metric) && WorkspaceOf(metricId) == workspace;
        return Task.FromResult(known ? metric : null);
    }

    string WorkspaceOf(Guid metricId) => Workspaces.TryGetValue(metricId, out var workspace) ? workspace : TestTokens.Workspace;

    public MetricInfo Add(string kind = "built_in", int version = 1, string workspace = TestTokens.Workspace)
    {
        var id = Guid.NewGuid();
        var metric = new MetricInfo
        {
            Id = id, Key = $"faithfulness-{id:N}"[..20], Name = "Faithfulness", Kind = kind, Type = "quantitative", ScaleMin = 1, ScaleMax = 5,
            CurrentVersion = version,
            Current = new MetricVersionInfo { Version = version, SystemPrompt = "You grade faithfulness from 1 to 5.", UserPromptTemplate = "{{output}}" },
        };
        Workspaces[id] = workspace;
        Metrics[id] = metric;
        return metric;
    }
}
