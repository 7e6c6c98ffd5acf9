using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Distillation;
using MetricAlignment.Alignment.Tests.Analysis;

namespace MetricAlignment.Alignment.Tests.Distillation;

public sealed class BuiltInDistillerTests
{
    static readonly MetricDefinition FluencyMetric = SummarizationDataset.Metric("fluency");

    static Task<DistillationResult> DistillFluency() =>
        new BuiltInDistiller().DistillAsync(
            new DistillationRequest { Metric = FluencyMetric, Analysis = SummarizationDataset.Analyze("fluency") },
            CancellationToken.None);

    [Fact]
    public async Task The_same_rows_and_prompt_give_byte_identical_output()
    {
        var first = await DistillFluency();
        var second = await DistillFluency();

        second.GuidelinesText.Should().Be(first.GuidelinesText);
        second.RefinedSystemPrompt.Should().Be(first.RefinedSystemPrompt);
        second.Guidelines.Select(g => g.Text + string.Join(",", g.SourceRowIds))
            .Should().Equal(first.Guidelines.Select(g => g.Text + string.Join(",", g.SourceRowIds)));
    }

    [Fact]
    public async Task Guidelines_report_the_judges_overall_bias_and_the_per_level_figure()
    {
        var result = await DistillFluency();

        result.GuidelinesText.Should().Contain("The judge scores 0.80 points higher than the reviewers on average");
        result.GuidelinesText.Should().Contain("Where the judge gave 5, reviewers gave 4.18 on average (391 rows)");
        result.Guidelines.Should().Contain(g => g.Text.Contains("system = gold_reference") && g.Text.Contains("100%"));
    }

    [Fact]
    public async Task Every_guideline_cites_rows_that_exist_and_the_calibration_examples_are_five_distinct_rows()
    {
        var result = await DistillFluency();
        var rowIds = SummarizationDataset.Rows("fluency").Select(r => r.RowId).ToHashSet();

        result.Guidelines.Should().OnlyContain(g => g.SourceRowIds.Count > 0);
        result.Guidelines.SelectMany(g => g.SourceRowIds).Should().OnlyContain(id => rowIds.Contains(id));
        var examples = result.Guidelines.Where(g => g.Text.StartsWith("Row ")).ToList();
        examples.Should().HaveCount(5);
        examples.Select(g => g.SourceRowIds.Single()).Should().OnlyHaveUniqueItems();
        examples.Should().OnlyContain(g => g.Text.Contains(g.SourceRowIds[0].ToString()));
        result.GuidelinesText.Should().Contain("## Calibration examples");
    }

    [Fact]
    public async Task The_refined_prompt_keeps_the_rubric_verbatim_and_appends_a_delimited_calibration_section()
    {
        var result = await DistillFluency();

        result.RefinedSystemPrompt.Should().StartWith(FluencyMetric.SystemPrompt.TrimEnd());
        result.RefinedSystemPrompt.Should().Contain(BuiltInDistiller.SectionStart).And.EndWith(BuiltInDistiller.SectionEnd);
        result.RefinedSystemPrompt.Should().Contain("When in doubt between 4 and 5, choose 4");
        result.RefinedSystemPrompt.Should().Contain("Reserve 5 for");
        result.RefinedUserPromptTemplate.Should().Be(FluencyMetric.UserPromptTemplate);
    }

    [Fact]
    public async Task Refining_an_already_refined_prompt_replaces_the_previous_calibration_section()
    {
        var first = await DistillFluency();
        var refinedMetric = FluencyMetric with { Version = 2, SystemPrompt = first.RefinedSystemPrompt };

        var second = await new BuiltInDistiller().DistillAsync(
            new DistillationRequest { Metric = refinedMetric, Analysis = SummarizationDataset.Analyze("fluency") }, CancellationToken.None);

        second.RefinedSystemPrompt.Split(BuiltInDistiller.SectionStart).Should().HaveCount(2, "exactly one calibration section");
        second.RefinedSystemPrompt.Should().StartWith(FluencyMetric.SystemPrompt.TrimEnd());
    }

    [Fact]
    public async Task Without_disagreements_the_prompt_is_returned_unchanged_with_a_warning()
    {
        var analysis = SummarizationDataset.Analyze("fluency", deltaThreshold: 4.5);

        var result = await new BuiltInDistiller().DistillAsync(
            new DistillationRequest { Metric = FluencyMetric, Analysis = analysis }, CancellationToken.None);

        result.RefinedSystemPrompt.Should().Be(FluencyMetric.SystemPrompt);
        result.Warnings.Should().Contain(w => w.StartsWith("No disagreements"));
        result.GuidelinesText.Should().Contain("## Warnings");
    }

    [Fact]
    public async Task A_qualitative_metric_gets_label_guidance_themes_and_cited_examples()
    {
        var analyzer = new DisagreementAnalyzer(DisagreementAnalyzerSyntheticTests.Toxicity, 1);
        foreach (var row in DisagreementAnalyzerSyntheticTests.LabelRows()) analyzer.Add(row);
        var analysis = analyzer.Complete();

        var result = await new BuiltInDistiller().DistillAsync(
            new DistillationRequest { Metric = DisagreementAnalyzerSyntheticTests.Toxicity, Analysis = analysis }, CancellationToken.None);

        result.GuidelinesText.Should().Contain("Where the judge answered \"safe\" (6 rows), reviewers agreed on 3; most often they answered \"borderline\" instead (2 rows).");
        result.Guidelines.Should().Contain(g => g.Text.StartsWith("Reviewer comments on disagreement rows") && g.Text.Contains("\"sarcastic insult\""));
        result.RefinedSystemPrompt.Should().StartWith(DisagreementAnalyzerSyntheticTests.Toxicity.SystemPrompt);
        result.RefinedSystemPrompt.Should().Contain("Before answering \"safe\"");
        var traceIds = analysis.Traces.Select(t => t.RowId).ToHashSet();
        result.Guidelines.Where(g => g.Text.StartsWith("Row ")).Should().HaveCount(5)
            .And.OnlyContain(g => traceIds.Contains(g.SourceRowIds.Single()));
    }

    [Fact]
    public void The_provider_is_builtin()
    {
        new BuiltInDistiller().Provider.Should().Be("builtin");
    }
}
