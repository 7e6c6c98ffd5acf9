using MetricAlignment.Alignment.Analysis;

namespace MetricAlignment.Alignment.Tests.Analysis;

/// <summary>Fluency on the real dataset at delta threshold 1; expected figures were computed independently from rows.jsonl.</summary>
public sealed class DisagreementAnalyzerDatasetTests
{
    static readonly TraceAnalysis Fluency = SummarizationDataset.Analyze("fluency");

    [Fact]
    public void The_judge_scores_fluency_0_80_points_higher_than_the_reviewers_on_average()
    {
        Fluency.Statistics.SignedBias.Should().BeApproximately(0.80, 0.005);
        Fluency.Statistics.MeanAbsoluteError.Should().BeApproximately(0.825, 1e-9);
    }

    [Fact]
    public void Fluency_has_145_disagreements_and_255_agreeing_rows_skipped()
    {
        Fluency.RowsLoaded.Should().Be(400);
        Fluency.Disagreements.Should().Be(145);
        Fluency.AgreeingRowsSkipped.Should().Be(255);
        Fluency.RowsMissingValues.Should().Be(0);
    }

    [Fact]
    public void Where_the_judge_gave_5_reviewers_gave_4_18_on_average_over_391_rows()
    {
        var five = Fluency.PerJudgeLevel.Single(l => l.Level == "5");

        five.Rows.Should().Be(391);
        five.MeanHumanScore.Should().BeApproximately(4.18, 0.005);
        Fluency.PerJudgeLevel.Select(l => l.Level).Should().Equal("4", "5");
        Fluency.PerJudgeLevel.Sum(l => l.JudgeLower).Should().Be(5);
    }

    [Fact]
    public void Agreement_statistics_cover_all_rows()
    {
        var statistics = Fluency.Statistics;

        statistics.RowCount.Should().Be(400);
        statistics.ExactAgreement.Should().BeApproximately(0.6375, 1e-9);
        statistics.WithinOne.Should().BeApproximately(0.7525, 1e-9);
        statistics.Spearman.Should().BeApproximately(0.02654, 0.00001);
        statistics.QuadraticWeightedKappa.Should().BeApproximately(0.003483, 0.000001);
        statistics.ReviewerAlpha.Should().BeApproximately(0.51253, 0.00001);
        statistics.Categories.Should().Equal("1", "2", "3", "4", "5");
        statistics.ConfusionMatrix[4].Should().Equal(21, 44, 33, 38, 255);
        statistics.ConfusionMatrix[3].Should().Equal(0, 1, 3, 0, 5);
    }

    [Fact]
    public void Slices_show_where_disagreement_concentrates_and_skip_identifying_tags()
    {
        var systems = Fluency.Slices.Where(s => s.Dimension == "tag:system").ToDictionary(s => s.Value);

        systems.Should().HaveCount(4);
        systems["gold_reference"].Disagreements.Should().Be(100);
        systems["gold_reference"].DisagreementRate.Should().Be(1);
        systems["gpt-3.5-turbo"].Disagreements.Should().Be(2);
        Fluency.Slices.Should().NotContain(s => s.Dimension == "tag:item_id", "100 distinct article ids identify rows, they do not group them");
        Fluency.Slices.Where(s => s.Dimension == "output_length").Sum(s => s.Rows).Should().Be(400);
        Fluency.Slices.Where(s => s.Dimension == "tag:batch").Sum(s => s.Disagreements).Should().Be(145);
    }

    [Fact]
    public void Kept_traces_are_bounded_disagreements_largest_delta_first_and_spread_over_systems_and_directions()
    {
        var analysis = SummarizationDataset.Analyze("fluency", maxTraces: 20);

        analysis.Traces.Should().HaveCount(20);
        analysis.Traces.Should().OnlyContain(t => Math.Abs(t.Delta!.Value) >= 1);
        analysis.Traces[0].Delta.Should().Be(4, "a judge 5 against a reviewers' 1 is the most instructive disagreement");
        analysis.Traces.Should().Contain(t => t.Delta < 0, "both directions are represented");
        analysis.Traces.Select(t => t.Tags["system"]).Distinct().Should().HaveCountGreaterThan(1);
        analysis.Traces.Select(t => t.RowId).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void The_same_rows_give_the_same_traces()
    {
        var again = SummarizationDataset.Analyze("fluency");

        again.Traces.Select(t => t.RowId).Should().Equal(Fluency.Traces.Select(t => t.RowId));
    }

    [Fact]
    public void Rows_lacking_a_judge_or_resolved_score_are_counted_apart_and_warned_about()
    {
        var rows = SummarizationDataset.Rows("fluency");
        var analyzer = new DisagreementAnalyzer(SummarizationDataset.Metric("fluency"), 1);
        foreach (var (row, index) in rows.Select((r, i) => (r, i)))
            analyzer.Add(index switch
            {
                0 => row with { JudgeScore = null },
                1 => row with { ResolvedScore = null },
                _ => row,
            });

        var analysis = analyzer.Complete();

        analysis.RowsLoaded.Should().Be(400);
        analysis.RowsMissingValues.Should().Be(2);
        (analysis.Disagreements + analysis.AgreeingRowsSkipped).Should().Be(398);
        analysis.Statistics.RowCount.Should().Be(398);
        analysis.Warnings.Should().Contain(w => w.StartsWith("2 of 400 rows lack a judge score"));
    }

    [Fact]
    public void Few_disagreements_are_warned_about()
    {
        var analysis = SummarizationDataset.Analyze("fluency", deltaThreshold: 4);

        analysis.Disagreements.Should().Be(21);
        SummarizationDataset.Analyze("fluency", deltaThreshold: 4.5).Warnings
            .Should().Contain(w => w.StartsWith("Only 0 disagreements among 400 rows"));
    }
}
