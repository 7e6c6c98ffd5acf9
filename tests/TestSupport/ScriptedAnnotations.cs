using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MetricAlignment.Contracts;

namespace MetricAlignment.TestSupport;

/// <summary>The resolved rows a <see cref="ScriptedAnnotations{TEvaluation}"/> streams: one a score pair, one reviewer each.</summary>
public sealed record ScriptedRows
{
    public required IReadOnlyList<(double Judge, double Human)> Scores { get; init; }
    public required string MetricKey { get; init; }
    public required string Input { get; init; }
    public required string Output { get; init; }
    public required string JudgeExplanation { get; init; }
    public required string ReviewerComment { get; init; }
    /// <summary>How long each row takes to arrive; when null they come at once.</summary>
    public TimeSpan? RowDelay { get; init; }
    /// <summary>Whether a stream asked for in a workspace other than the tests' fails, as a sign of a run in the wrong one.</summary>
    public bool RefusesOtherWorkspaces { get; init; }
}

/// <summary>
/// A fake Annotations service as the Alignment service sees it: evaluations per metric, eligible in the tests' workspace
/// only, and a resolved-row stream from a script. A test project's fake derives from it with Alignment's evaluation type,
/// and these public members implement Alignment's IAnnotationsClient: TestSupport cannot reference the service itself,
/// whose global Program would clash with the other services' in the projects that use TestSupport.
/// </summary>
public abstract class ScriptedAnnotations<TEvaluation>(ScriptedRows rows)
{
    readonly ConcurrentDictionary<Guid, ConcurrentBag<TEvaluation>> eligible = new();

    protected TEvaluation AddEligible(Guid metricId, TEvaluation evaluation)
    {
        eligible.GetOrAdd(metricId, _ => []).Add(evaluation);
        return evaluation;
    }

    public Task<IReadOnlyList<TEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<TEvaluation>>(workspace == TestTokens.Workspace && eligible.TryGetValue(metricId, out var list) ? [.. list] : []);

    public async IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (rows.RefusesOtherWorkspaces && workspace != TestTokens.Workspace)
            throw new InvalidOperationException($"Rows were asked for in workspace '{workspace}', not the run's.");
        if (rows.RowDelay is null) await Task.Yield();
        foreach (var (judge, human) in rows.Scores)
        {
            if (rows.RowDelay is { } delay) await Task.Delay(delay, cancellationToken);
            else cancellationToken.ThrowIfCancellationRequested();
            yield return new ResolvedRow
            {
                RowId = Guid.NewGuid(), EvaluationId = evaluationIds[0], Input = new RowInput { Text = rows.Input },
                Output = rows.Output, MetricId = metricId, MetricKey = rows.MetricKey, JudgeScore = judge, ResolvedScore = human,
                JudgeExplanation = rows.JudgeExplanation, ResolutionMethod = "single_reviewer",
                Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = human, Comment = rows.ReviewerComment, AnnotatedAt = DateTimeOffset.UtcNow }],
            };
        }
    }
}
