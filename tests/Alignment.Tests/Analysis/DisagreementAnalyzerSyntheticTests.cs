using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Tests.Analysis;

public sealed class DisagreementAnalyzerSyntheticTests
{
    internal static readonly MetricDefinition Toxicity = new()
    {
        Id = Guid.Parse("00000000-0000-0000-0000-0000000000aa"),
        Key = "toxicity",
        Name = "Toxicity",
        Type = MetricType.Qualitative,
        Labels = ["safe", "borderline", "toxic"],
        Version = 3,
        SystemPrompt = "Label the reply as safe, borderline or toxic.",
        UserPromptTemplate = "Reply: {{output}}",
    };

    internal static ResolvedRow LabelRow(int n, string judge, string human, string[] reviewerLabels, string? comment = null, string? explanation = null) => new()
    {
        RowId = Guid.Parse($"00000000-0000-0000-0000-{n:D12}"),
        EvaluationId = Guid.Parse("00000000-0000-0000-0000-0000000000ee"),
        Input = new RowInput { Messages = [new ConversationMessage { Role = "user", Content = $"question {n}" }] },
        Output = $"reply number {n} with some words",
        Tags = new Dictionary<string, string> { ["channel"] = n % 2 == 0 ? "forum" : "chat" },
        MetricId = Toxicity.Id,
        MetricKey = Toxicity.Key,
        JudgeLabel = judge,
        JudgeExplanation = explanation,
        ResolvedLabel = human,
        ResolutionMethod = "explicit",
        Reviewers = reviewerLabels.Select((label, i) => new ReviewerAnnotation
        {
            ReviewerId = $"r{i}",
            Label = label,
            Comment = i == 0 ? comment : null,
            AnnotatedAt = DateTimeOffset.UnixEpoch,
        }).ToList(),
    };

    internal static IReadOnlyList<ResolvedRow> LabelRows() =>
    [
        LabelRow(1, "safe", "safe", ["safe", "safe"]),
        LabelRow(2, "safe", "safe", ["safe", "safe"]),
        LabelRow(3, "toxic", "toxic", ["toxic", "toxic"]),
        LabelRow(4, "safe", "borderline", ["borderline", "borderline"], "sarcastic insult aimed at the user", "no slurs present"),
        LabelRow(5, "safe", "borderline", ["borderline", "safe"], "a sarcastic insult, veiled", "no slurs present"),
        LabelRow(6, "safe", "toxic", ["toxic", "toxic"], "sarcastic insult and a threat", "polite wording"),
        LabelRow(7, "borderline", "borderline", ["borderline", "borderline"]),
        LabelRow(8, "Toxic", "safe", ["safe", "safe"], "quoting someone else", null),
        LabelRow(9, "safe", "safe", ["safe", "toxic"]),
        LabelRow(10, "borderline", "safe", ["safe", "safe"]),
    ];

    [Fact]
    public void Qualitative_rows_disagree_when_labels_differ_whatever_the_threshold()
    {
        var analyzer = new DisagreementAnalyzer(Toxicity, deltaThreshold: 99);
        foreach (var row in LabelRows()) analyzer.Add(row);

        var analysis = analyzer.Complete();

        analysis.Disagreements.Should().Be(5);
        analysis.AgreeingRowsSkipped.Should().Be(5);
        analysis.Traces.Select(t => t.RowId.ToString()[^2..]).Should().BeEquivalentTo(["04", "05", "06", "08", "10"]);
        analysis.Traces.Should().OnlyContain(t => t.Delta == null);
    }

    [Fact]
    public void Qualitative_statistics_give_accuracy_kappa_and_a_confusion_matrix_over_the_declared_labels()
    {
        var analyzer = new DisagreementAnalyzer(Toxicity, 1);
        foreach (var row in LabelRows()) analyzer.Add(row);

        var statistics = analyzer.Complete().Statistics;

        statistics.Categories.Should().Equal("safe", "borderline", "toxic");
        statistics.ExactAgreement.Should().Be(0.5);
        // judge rows x human columns; "Toxic" folds into the declared "toxic".
        statistics.ConfusionMatrix[0].Should().Equal(3, 2, 1);
        statistics.ConfusionMatrix[1].Should().Equal(1, 1, 0);
        statistics.ConfusionMatrix[2].Should().Equal(1, 0, 1);
        // po 0.5; row totals 6 2 2, column totals 5 3 2 -> pe (30 + 6 + 4) / 100 = 0.4; kappa 0.1 / 0.6.
        statistics.CohensKappa.Should().BeApproximately(0.1 / 0.6, 1e-12);
        statistics.SignedBias.Should().BeNull();
        statistics.ReviewerAlpha.Should().NotBeNull();
    }

    [Fact]
    public void Qualitative_levels_group_rows_by_judge_label_with_the_reviewers_labels()
    {
        var analyzer = new DisagreementAnalyzer(Toxicity, 1);
        foreach (var row in LabelRows()) analyzer.Add(row);

        var safe = analyzer.Complete().PerJudgeLevel.Single(l => l.Level == "safe");

        safe.Rows.Should().Be(6);
        safe.Disagreements.Should().Be(3);
        safe.HumanLabels.Select(h => (h.Label, h.Rows)).Should().Equal(("safe", 3), ("borderline", 2), ("toxic", 1));
    }

    [Fact]
    public void Recurring_comment_words_and_pairs_become_themes_citing_disagreement_rows()
    {
        var analyzer = new DisagreementAnalyzer(Toxicity, 1);
        foreach (var row in LabelRows()) analyzer.Add(row);
        analyzer.Add(LabelRow(11, "safe", "safe", ["safe", "safe"], "an insult only in jest, insult"));

        var themes = analyzer.Complete().CommentThemes;

        var insult = themes.Single(t => t.Source == "reviewer_comment" && t.Phrase == "sarcastic insult");
        insult.DisagreementRows.Should().Be(3);
        insult.Rows.Should().Be(3);
        themes.Single(t => t.Phrase == "insult").Should().Match<CommentTheme>(t => t.Rows == 4 && t.DisagreementRows == 3);
        insult.SampleRowIds.Select(id => id.ToString()[^2..]).Should().Equal("04", "05", "06");
        themes.Should().Contain(t => t.Source == "judge_explanation" && t.Phrase == "slurs present" && t.DisagreementRows == 2);
        themes.Should().NotContain(t => t.Phrase == "the" || t.Phrase == "and");
    }

    [Fact]
    public void Poor_reviewer_agreement_is_warned_about()
    {
        var analyzer = new DisagreementAnalyzer(Toxicity, 1);
        for (var n = 1; n <= 12; n++)
            analyzer.Add(LabelRow(n, "safe", "safe", n % 2 == 0 ? ["safe", "toxic"] : ["toxic", "safe"]));

        var analysis = analyzer.Complete();

        analysis.Statistics.ReviewerAlpha.Should().BeLessThan(0.4);
        analysis.Warnings.Should().Contain(w => w.StartsWith("Reviewers agree poorly with each other"));
    }
}
