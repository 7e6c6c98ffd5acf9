using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Distillation;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Alignment.Tests.Reflection;

public sealed class JudgeVerifierTests
{
    // Rows 1-10 disagree (judge 5, humans 2); rows 101-110 agree (judge and humans 4).
    static readonly List<DisagreementTrace> Traces = Enumerable.Range(1, 10).Select(n => ReflectionData.Trace(n)).ToList();
    static readonly List<VerificationRow> Agreeing = Enumerable.Range(101, 10).Select(n => ReflectionData.Agreeing(n, 4)).ToList();

    static double Human(int row) => row > 100 ? 4 : 2;

    static int RowNumber(ChatRequest request) => int.Parse(Regex.Match(request.UserPrompt, @"Summary (\d+):").Groups[1].Value);

    static ScriptedResponse Judgement(double score) =>
        ScriptedResponse.Json(new JsonObject { ["score"] = score, ["explanation"] = "Scripted judgement." }, promptTokens: 300, completionTokens: 20);

    static VerificationRequest Request(ReflectionStack stack) => new()
    {
        Metric = ReflectionData.Metric,
        Analysis = ReflectionData.Analysis(Traces),
        SampledRows = Agreeing,
        ReflectionEngine = stack.Engine,
    };

    [Fact]
    public async Task A_refined_prompt_that_fixes_held_out_rows_is_reported_as_an_improvement_side_by_side()
    {
        await using var server = await ScriptedOpenAiServer.StartAsync(ReflectionData.Script(judge: request =>
        {
            var row = RowNumber(request);
            var refined = request.SystemPrompt.Contains(BuiltInDistiller.SectionStart, StringComparison.Ordinal);
            return Judgement(refined || row > 100 ? Human(row) : 5);
        }));
        using var stack = new ReflectionStack(server.Endpoint);
        var meter = new RunTokenMeter();

        var report = await stack.Verifier.VerifyAsync(Request(stack), meter, CancellationToken.None);

        report.HeldOutRowIds.Should().HaveCount(6, "30% of each stratum of ten rows");
        report.HeldOutRowIds.Should().NotIntersectWith(report.DistillationRowIds);
        var distilledRows = server.Requests.Where(r => r.SchemaName == "candidate_guidelines").Sum(r => Regex.Matches(r.UserPrompt, "<row id=").Count);
        distilledRows.Should().Be(7, "the reflection model sees only the disagreement rows that are not held out");
        report.Distillation.Guidelines.SelectMany(g => g.SourceRowIds).Should().NotIntersectWith(report.HeldOutRowIds);

        report.Baseline.RowCount.Should().Be(6);
        report.Baseline.ExactAgreement.Should().Be(0.5);
        report.Baseline.MeanAbsoluteError.Should().Be(1.5);
        report.Baseline.WithinOne.Should().Be(0.5);
        report.Refined.ExactAgreement.Should().Be(1);
        report.Refined.MeanAbsoluteError.Should().Be(0);
        report.Refined.QuadraticWeightedKappa.Should().Be(1);
        report.Baseline.QuadraticWeightedKappa.Should().BeLessThan(report.Refined.QuadraticWeightedKappa!.Value);
        report.RowsFixed.Should().HaveCount(3).And.OnlyContain(id => Traces.Select(t => t.RowId).Contains(id));
        report.RowsMadeWorse.Should().BeEmpty();
        report.Improved.Should().BeTrue();
        report.Summary.Should().StartWith("The refined prompt improved agreement on held-out rows: MAE 1.50 -> 0.00");

        var judgeCalls = server.Requests.Where(r => r.SchemaName == "judgement").ToList();
        judgeCalls.Should().HaveCount(12);
        judgeCalls.Should().OnlyContain(r => r.UserPrompt.StartsWith("Source:\nSource article number", StringComparison.Ordinal));
        var usage = meter.Snapshot();
        usage.PerPhase[JudgeVerifier.BaselinePhase].Calls.Should().Be(6);
        usage.PerPhase[JudgeVerifier.RefinedPhase].Should().Be(new TokenCount { PromptTokens = 1800, CompletionTokens = 120, Calls = 6 });
        usage.PerPhase.Keys.Should().Contain([LlmReflectionEngine.BatchPhase, LlmReflectionEngine.MergePhase]);
    }

    [Fact]
    public async Task A_refined_prompt_that_breaks_agreeing_rows_is_reported_plainly_as_no_improvement()
    {
        await using var server = await ScriptedOpenAiServer.StartAsync(ReflectionData.Script(judge: request =>
        {
            var row = RowNumber(request);
            var refined = request.SystemPrompt.Contains(BuiltInDistiller.SectionStart, StringComparison.Ordinal);
            return Judgement(row > 100 ? (refined ? 1 : 4) : 5);
        }));
        using var stack = new ReflectionStack(server.Endpoint);

        var report = await stack.Verifier.VerifyAsync(Request(stack), new RunTokenMeter(), CancellationToken.None);

        report.Improved.Should().BeFalse();
        report.Summary.Should().StartWith("Verification did not show an improvement: MAE 1.50 -> 3.00");
        report.RowsFixed.Should().BeEmpty();
        report.RowsMadeWorse.Should().HaveCount(3).And.OnlyContain(id => Agreeing.Select(a => a.RowId).Contains(id));
        report.Refined.ExactAgreement.Should().Be(0);
    }

    [Fact]
    public async Task The_split_is_reproducible_for_a_seed_and_independent_of_row_order()
    {
        await using var server = await ScriptedOpenAiServer.StartAsync(ReflectionData.Script());
        using var stack = new ReflectionStack(server.Endpoint);
        var rows = Traces.Select(VerificationRow.FromTrace).Concat(Agreeing).ToList();

        var first = stack.Verifier.Split(rows);
        var shuffled = stack.Verifier.Split(rows.AsEnumerable().Reverse());

        shuffled.HeldOut.Select(r => r.RowId).Should().BeEquivalentTo(first.HeldOut.Select(r => r.RowId));
        first.HeldOut.Should().Contain(r => r.IsDisagreement).And.Contain(r => !r.IsDisagreement);
    }

    [Fact]
    public void The_sampler_keeps_the_same_bounded_sample_whatever_order_rows_stream_in()
    {
        var options = new VerificationOptions { SamplePerStratum = 5, Seed = 7 };
        var rows = Enumerable.Range(1, 60).Select(n => new ResolvedRow
        {
            RowId = ReflectionData.RowId(n),
            EvaluationId = Guid.NewGuid(),
            Input = new RowInput { Text = $"input {n}" },
            Output = $"output {n}",
            Context = $"context {n}",
            MetricId = ReflectionData.Metric.Id,
            MetricKey = ReflectionData.Metric.Key,
            JudgeScore = 5,
            ResolvedScore = n % 3 == 0 ? 2 : 5,
            ResolutionMethod = "single_reviewer",
        }).ToList();
        var forward = new VerificationSampler(ReflectionData.Metric, 2, options);
        var backward = new VerificationSampler(ReflectionData.Metric, 2, options);

        rows.ForEach(forward.Add);
        rows.AsEnumerable().Reverse().ToList().ForEach(backward.Add);

        forward.Rows().Select(r => r.RowId).Should().Equal(backward.Rows().Select(r => r.RowId));
        forward.Rows().Should().HaveCount(10);
        forward.Rows().Count(r => r.IsDisagreement).Should().Be(5);
        forward.Rows().Should().OnlyContain(r => r.Context!.StartsWith("context"));
    }
}
