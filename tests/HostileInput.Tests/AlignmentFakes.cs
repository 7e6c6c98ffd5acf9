extern alias alignment;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using alignment::MetricAlignment.Alignment.Clients;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>The Metrics service as Alignment sees it: one known 1-5 metric of the tests' workspace, anything else unknown.</summary>
public sealed class FakeMetricsClient : IMetricsClient
{
    public static readonly Guid KnownMetricId = Guid.Parse("5e1f0000-0000-4000-8000-00000000a11c");

    public static readonly MetricInfo Known = new()
    {
        Id = KnownMetricId, Key = "faithfulness", Name = "Faithfulness", Kind = "built_in", Type = "quantitative", ScaleMin = 1, ScaleMax = 5,
        CurrentVersion = 1,
        Current = new MetricVersionInfo { Version = 1, SystemPrompt = "You grade faithfulness from 1 to 5.", UserPromptTemplate = "{{output}}" },
    };

    public Task<MetricInfo?> GetMetricAsync(string workspace, Guid metricId, CancellationToken cancellationToken) =>
        Task.FromResult(workspace == TestTokens.Workspace && metricId == KnownMetricId ? Known : null);
}

/// <summary>The Annotations service as Alignment sees it: evaluations and row streams the test sets up, in the tests' workspace.</summary>
public sealed class FakeAnnotationsClient : IAnnotationsClient
{
    public ConcurrentDictionary<Guid, List<EligibleEvaluation>> Eligible { get; } = new();
    public int RowsPerStream { get; set; }

    public Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<EligibleEvaluation>>(workspace == TestTokens.Workspace && Eligible.TryGetValue(metricId, out var list) ? list : []);

    public async IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (workspace != TestTokens.Workspace) throw new InvalidOperationException($"Rows were asked for in workspace '{workspace}', not the run's.");
        for (var i = 0; i < RowsPerStream; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new ResolvedRow
            {
                RowId = Guid.NewGuid(), EvaluationId = evaluationIds[0], Input = new RowInput { Text = "Summarise the article." },
                Output = "A summary.", MetricId = metricId, MetricKey = "faithfulness", JudgeScore = 5, ResolvedScore = i % 2 == 0 ? 2 : 5,
                JudgeExplanation = "Looks faithful.", ResolutionMethod = "single_reviewer",
                Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = 2, Comment = "Invents a date.", AnnotatedAt = DateTimeOffset.UtcNow }],
            };
        }
    }

    public EligibleEvaluation AddCompletedEvaluation(Guid metricId)
    {
        var evaluation = new EligibleEvaluation
        {
            EvaluationId = Guid.NewGuid(), Name = "eval-completed", Status = "completed", CreatedAt = DateTimeOffset.UtcNow,
            RowCount = 10, ResolvedRowCount = 10,
        };
        Eligible.AddOrUpdate(metricId, _ => [evaluation], (_, list) => { lock (list) list.Add(evaluation); return list; });
        return evaluation;
    }
}
