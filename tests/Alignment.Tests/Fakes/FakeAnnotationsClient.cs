using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Alignment.Tests.Fakes;

/// <summary>The Annotations service as the Alignment service sees it: an evaluation is listed only in its own workspace.</summary>
public sealed class FakeAnnotationsClient : IAnnotationsClient
{
    public ConcurrentDictionary<Guid, List<EligibleEvaluation>> Eligible { get; } = new();
    public ConcurrentDictionary<Guid, string> EvaluationWorkspaces { get; } = new();
    /// <summary>Per metric: what streaming its resolved rows does.</summary>
    public ConcurrentDictionary<Guid, Func<CancellationToken, IAsyncEnumerable<ResolvedRow>>> Rows { get; } = new();
    /// <summary>Every stream of resolved rows asked for, with the workspace it was asked in.</summary>
    public ConcurrentQueue<(string Workspace, Guid MetricId)> StreamCalls { get; } = new();

    /// <summary>When set, every eligibility lookup (the start's, never the worker's) waits for it before answering.</summary>
    public Func<CancellationToken, Task>? EligibilityAnswering { get; set; }

    public async Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken)
    {
        if (EligibilityAnswering is { } answering) await answering(cancellationToken);
        if (!Eligible.TryGetValue(metricId, out var list)) return [];
        lock (list)
            return list.Where(e => WorkspaceOf(e.EvaluationId) == workspace).ToList();
    }

    public IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds, CancellationToken cancellationToken)
    {
        StreamCalls.Enqueue((workspace, metricId));
        return Rows.TryGetValue(metricId, out var rows) ? rows(cancellationToken) : Empty();
    }

    string WorkspaceOf(Guid evaluationId) => EvaluationWorkspaces.TryGetValue(evaluationId, out var workspace) ? workspace : TestTokens.Workspace;

    static async IAsyncEnumerable<ResolvedRow> Empty()
    {
        await Task.CompletedTask;
        yield break;
    }

    public EligibleEvaluation AddEvaluation(Guid metricId, string status = "completed", int resolved = 6, string workspace = TestTokens.Workspace)
    {
        var evaluation = new EligibleEvaluation
        {
            EvaluationId = Guid.NewGuid(), Name = $"eval-{status}", Status = status, CreatedAt = DateTimeOffset.UtcNow,
            RowCount = 10, ResolvedRowCount = resolved,
        };
        EvaluationWorkspaces[evaluation.EvaluationId] = workspace;
        Eligible.AddOrUpdate(metricId, _ => [evaluation], (_, list) => { lock (list) list.Add(evaluation); return list; });
        return evaluation;
    }

    public static ResolvedRow Row(Guid metricId, Guid evaluationId, double judge, double human) => new()
    {
        RowId = Guid.NewGuid(), EvaluationId = evaluationId, Input = new RowInput { Text = "Summarise the article." },
        Output = "A summary.", MetricId = metricId, MetricKey = "faithfulness", JudgeScore = judge, ResolvedScore = human,
        JudgeExplanation = "Looks faithful.", ResolutionMethod = "single_reviewer",
        Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = human, Comment = "Invents a date.", AnnotatedAt = DateTimeOffset.UtcNow }],
    };

    /// <summary>Six rows, three of them with the judge two points above the humans.</summary>
    public static async IAsyncEnumerable<ResolvedRow> SixRows(Guid metricId, Guid evaluationId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var (judge, human) in new[] { (5.0, 3.0), (4.0, 4.0), (5.0, 2.0), (3.0, 3.0), (4.0, 2.0), (2.0, 2.0) })
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return Row(metricId, evaluationId, judge, human);
        }
    }
}
