using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.Analysis;

[CollectionDefinition(nameof(MemorySensitive), DisableParallelization = true)]
public sealed class MemorySensitive;

[Collection(nameof(MemorySensitive))]
public sealed class DisagreementAnalyzerBoundednessTests
{
    static readonly MetricDefinition Helpfulness = new()
    {
        Id = Guid.Parse("00000000-0000-0000-0000-0000000000bb"),
        Key = "helpfulness",
        Name = "Helpfulness",
        Type = MetricType.Quantitative,
        ScaleMin = 1,
        ScaleMax = 5,
        Version = 1,
        SystemPrompt = "Score helpfulness from 1 to 5.",
        UserPromptTemplate = "{{output}}",
    };

    /// <summary>Rows generated on the fly with a unique kilobyte of output each: retaining them would cost hundreds of megabytes.</summary>
    static IEnumerable<ResolvedRow> SyntheticRows(int count)
    {
        var random = new Random(7);
        for (var n = 0; n < count; n++)
        {
            var judge = random.Next(1, 6);
            var human = random.Next(0, 4) == 0 ? random.Next(1, 6) : judge;
            yield return new ResolvedRow
            {
                RowId = new Guid(n, 0, 0, new byte[8]),
                EvaluationId = Guid.Empty,
                Input = new RowInput { Text = $"question {n}" },
                Output = $"answer {n} " + new string('x', 1000),
                Tags = new Dictionary<string, string> { ["model"] = $"m{n % 7}", ["request_id"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                MetricId = Helpfulness.Id,
                MetricKey = Helpfulness.Key,
                JudgeScore = judge,
                JudgeExplanation = $"explanation {n % 1000} token{n}",
                ResolvedScore = human,
                ResolutionMethod = "single_reviewer",
                Reviewers = [new ReviewerAnnotation { ReviewerId = "r", Score = human, Comment = $"note{n}", AnnotatedAt = DateTimeOffset.UnixEpoch }],
            };
        }
    }

    [Fact]
    public void Two_hundred_thousand_rows_keep_at_most_max_traces_in_bounded_memory()
    {
        const int rows = 200_000;
        var analyzer = new DisagreementAnalyzer(Helpfulness, deltaThreshold: 1, maxTraces: 50);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        foreach (var row in SyntheticRows(rows)) analyzer.Add(row);
        var retained = GC.GetTotalMemory(forceFullCollection: true) - before;
        var analysis = analyzer.Complete();

        analyzer.RowsSeen.Should().Be(rows);
        analysis.Traces.Count.Should().Be(50);
        (analysis.Disagreements + analysis.AgreeingRowsSkipped).Should().Be(rows);
        analysis.Disagreements.Should().BeInRange(30_000, 45_000);
        analysis.Slices.Should().NotContain(s => s.Dimension == "tag:request_id");
        analysis.Slices.Count(s => s.Dimension == "tag:model").Should().Be(7);
        retained.Should().BeLessThan(64L * 1024 * 1024, "the analyzer keeps aggregates and bounded heaps, not rows");
    }
}
