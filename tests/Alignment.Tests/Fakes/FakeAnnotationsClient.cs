using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.Fakes;

public sealed class FakeAnnotationsClient : IAnnotationsClient
{
    public ConcurrentDictionary<Guid, List<EligibleEvaluation>> Eligible { get; } = new();
    /// <summary>Per metric: what streaming its resolved rows does.</summary>
    public ConcurrentDictionary<Guid, Func<CancellationToken, IAsyncEnumerable<ResolvedRow>>> Rows { get; } = new();

    public Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(Guid metricId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<EligibleEvaluation>>(Eligible.TryGetValue(metricId, out var list) ? list : []);

    public IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(Guid metricId, IReadOnlyList<Guid> evaluationIds, CancellationToken cancellationToken) =>
        Rows.TryGetValue(metricId, out var rows) ? rows(cancellationToken) : Empty();

    static async IAsyncEnumerable<ResolvedRow> Empty()
    {
        await Task.CompletedTask;
        yield break;
    }

    public EligibleEvaluation AddEvaluation(Guid metricId, string status = "completed", int resolved = 6)
    {
        var evaluation = new EligibleEvaluation
        {
            EvaluationId = Guid.NewGuid(), Name = $"eval-{status}", Status = status, CreatedAt = DateTimeOffset.UtcNow,
            RowCount = 10, ResolvedRowCount = resolved,
        };
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
