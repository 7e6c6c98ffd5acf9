using System.Globalization;
using System.Text;
using MetricAlignment.Alignment.Analysis;

namespace MetricAlignment.Alignment.Distillation;

/// <summary>
/// The deterministic, data-driven reflection engine (no LLM): it turns the analysis' aggregates — the judge's bias
/// overall and per score level, the slices where disagreement concentrates, recurring comment themes — and a few
/// diverse disagreement traces into cited guidelines, and appends them to the unchanged rubric as a delimited
/// "Calibration guidelines" section. Same input, same output byte for byte: every ordering is explicit and every
/// number is formatted with the invariant culture.
/// </summary>
public sealed class BuiltInDistiller : IReflectionEngine
{
    public const string SectionStart = "=== Calibration guidelines (metric alignment) ===";
    public const string SectionEnd = "=== End of calibration guidelines ===";
    const int CalibrationExampleCount = 5;
    const int CitedRowsPerGuideline = 5;
    const int ExcerptLength = 240;
    const int MaxSlices = 5;
    const int MaxThemesPerSource = 5;

    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public string Provider => "builtin";

    public Task<DistillationResult> DistillAsync(DistillationRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Distill(request.Metric, request.Analysis));
    }

    /// <summary>A guideline for the run's record plus, when the judge can act on it, the rule to put in its prompt.</summary>
    sealed record Finding(string Section, Guideline Guideline, string? PromptRule);

    public static DistillationResult Distill(MetricDefinition metric, TraceAnalysis analysis)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(analysis);
        var qualitative = metric.Type == MetricType.Qualitative;
        var grid = new ScaleGrid(metric.ScaleMin, metric.ScaleMax);
        var warnings = analysis.Warnings.ToList();

        var findings = new List<Finding>();
        if (analysis.Statistics.RowCount > 0)
        {
            findings.AddRange(qualitative ? LabelFindings(analysis) : ScoreFindings(analysis, grid));
            findings.AddRange(SliceFindings(analysis, qualitative));
            findings.AddRange(ThemeFindings(analysis));
        }
        var examples = analysis.Disagreements > 0 ? CalibrationExamples(analysis, grid, qualitative) : [];

        string refinedSystemPrompt;
        if (analysis.Disagreements == 0)
        {
            warnings.Add("No disagreements between the judge and the reviewers: the prompt is returned unchanged.");
            refinedSystemPrompt = metric.SystemPrompt;
        }
        else refinedSystemPrompt = RefinedPrompt(metric, analysis, findings, examples);

        return new DistillationResult
        {
            GuidelinesText = Markdown(metric, analysis, qualitative, findings, examples, warnings),
            Guidelines = [.. findings.Select(f => f.Guideline), .. examples.Select(e => e.Guideline)],
            RefinedSystemPrompt = refinedSystemPrompt,
            RefinedUserPromptTemplate = metric.UserPromptTemplate,
            Warnings = warnings,
        };
    }

    static IEnumerable<Finding> ScoreFindings(TraceAnalysis analysis, ScaleGrid grid)
    {
        var statistics = analysis.Statistics;
        var bias = statistics.SignedBias ?? 0;
        var threshold = F(analysis.DeltaThreshold);
        var pointWord = analysis.DeltaThreshold == 1 ? "point" : "points";
        var overall = Math.Abs(bias) < 0.05
            ? $"The judge shows no systematic lean against the reviewers (signed bias {Signed(bias)} over {statistics.RowCount} rows; mean absolute error {F2(statistics.MeanAbsoluteError ?? 0)})"
            : $"The judge scores {F2(Math.Abs(bias))} points {(bias > 0 ? "higher" : "lower")} than the reviewers on average (signed bias {Signed(bias)} over {statistics.RowCount} rows; mean absolute error {F2(statistics.MeanAbsoluteError ?? 0)})";
        overall += $"; {analysis.Disagreements} of {statistics.RowCount} rows differ by {threshold} {pointWord} or more.";
        string? overallRule = bias switch
        {
            >= 0.25 => $"Your scores have run about {F2(bias)} points higher than careful human reviewers' on average: be stricter, and give a high score only when the output earns it on every point of the rubric.",
            <= -0.25 => $"Your scores have run about {F2(-bias)} points lower than careful human reviewers' on average: be less harsh, and do not take points off for flaws the rubric does not describe.",
            _ => null,
        };
        yield return new Finding("Overall", new Guideline
        {
            Text = overall,
            SourceRowIds = Cite(analysis.Traces.Where(t => bias >= 0 ? t.Delta > 0 : t.Delta < 0)),
        }, overallRule);

        var overallRate = (double)analysis.Disagreements / statistics.RowCount;
        var minimumRows = Math.Max(3, statistics.RowCount / 100);
        foreach (var level in analysis.PerJudgeLevel)
        {
            if (level.JudgeScore is not { } judge || level.MeanHumanScore is not { } human || level.Rows < minimumRows) continue;
            var gap = judge - human;
            var rate = (double)level.Disagreements / level.Rows;
            if (Math.Abs(gap) < 0.25 && rate <= overallRate) continue;
            var text = $"Where the judge gave {F(judge)}, reviewers gave {F2(human)} on average ({level.Rows} rows); "
                + $"{level.Disagreements} of them differ by {threshold} {pointWord} or more ({level.JudgeHigher} with the judge higher, {level.JudgeLower} lower).";
            string? rule = null;
            if (gap >= 0.5 && grid.Category(judge - grid.Step) < judge)
            {
                var below = F(grid.Category(judge - grid.Step));
                rule = $"Reserve {F(judge)} for outputs that meet the rubric's description of {F(judge)} with no noticeable flaw: where you gave {F(judge)}, reviewers gave {F2(human)} on average. When in doubt between {below} and {F(judge)}, choose {below} unless the output has no flaw at all.";
            }
            else if (gap <= -0.5 && grid.Category(judge + grid.Step) > judge)
            {
                var above = F(grid.Category(judge + grid.Step));
                rule = $"Do not give {F(judge)} lightly: where you gave {F(judge)}, reviewers gave {F2(human)} on average. When in doubt between {F(judge)} and {above}, choose {above} unless the output clearly shows the problems the rubric describes for {F(judge)}.";
            }
            var levelKey = level.Level;
            yield return new Finding("Per judge score", new Guideline
            {
                Text = text,
                SourceRowIds = Cite(analysis.Traces.Where(t => t.JudgeScore is { } s && ScaleGrid.Format(grid.Category(s)) == levelKey)),
            }, rule);
        }
    }

    static IEnumerable<Finding> LabelFindings(TraceAnalysis analysis)
    {
        var statistics = analysis.Statistics;
        var text = $"The judge agrees with the reviewers on {Percent(statistics.ExactAgreement)} of {statistics.RowCount} rows"
            + (statistics.CohensKappa is { } kappa ? $" (Cohen's kappa {F2(kappa)})" : "") + $"; {analysis.Disagreements} rows disagree.";
        yield return new Finding("Overall", new Guideline { Text = text, SourceRowIds = Cite(analysis.Traces) }, null);

        foreach (var level in analysis.PerJudgeLevel.Where(l => l.Disagreements > 0))
        {
            var agreeing = level.HumanLabels.FirstOrDefault(h => h.Label == level.Level)?.Rows ?? 0;
            var instead = level.HumanLabels.Where(h => h.Label != level.Level).OrderByDescending(h => h.Rows).ThenBy(h => h.Label, StringComparer.Ordinal).First();
            var levelText = $"Where the judge answered \"{level.Level}\" ({level.Rows} rows), reviewers agreed on {agreeing}; "
                + $"most often they answered \"{instead.Label}\" instead ({instead.Rows} rows).";
            var rule = $"Before answering \"{level.Level}\", make sure the output really fits that label: in {instead.Rows} of the {level.Rows} cases where you answered \"{level.Level}\", reviewers chose \"{instead.Label}\".";
            var label = level.Level;
            yield return new Finding("Per judge label", new Guideline
            {
                Text = levelText,
                SourceRowIds = Cite(analysis.Traces.Where(t => t.JudgeLabel?.Trim() == label)),
            }, rule);
        }
    }

    static IEnumerable<Finding> SliceFindings(TraceAnalysis analysis, bool qualitative)
    {
        var rows = analysis.Statistics.RowCount;
        var overallRate = (double)analysis.Disagreements / rows;
        var minimumRows = Math.Max(10, rows / 20);
        var concentrated = analysis.Slices
            .Where(s => s.Rows >= minimumRows && s.Rows < rows && s.DisagreementRate >= overallRate * 1.25 && s.DisagreementRate - overallRate >= 0.05)
            .OrderByDescending(s => s.DisagreementRate)
            .ThenByDescending(s => s.Rows)
            .ThenBy(s => s.Dimension, StringComparer.Ordinal)
            .ThenBy(s => s.Value, StringComparer.Ordinal)
            .Take(MaxSlices);
        foreach (var slice in concentrated)
        {
            var lean = !qualitative && slice.MeanDelta is { } delta && Math.Abs(delta) >= 0.05
                ? $"; the judge is {F2(Math.Abs(delta))} points {(delta > 0 ? "higher" : "lower")} on average there"
                : "";
            var text = $"Disagreement concentrates where {Describe(slice)}: {Percent(slice.DisagreementRate)} of {slice.Rows} rows disagree vs {Percent(overallRate)} overall{lean}.";
            string? rule = slice.Dimension switch
            {
                "input_length" => $"Take particular care when the input has {slice.Value}: that is where your judgement departs most from the reviewers' ({Percent(slice.DisagreementRate)} disagreement vs {Percent(overallRate)} overall).",
                "output_length" => $"Take particular care with outputs of {slice.Value}: that is where your judgement departs most from the reviewers' ({Percent(slice.DisagreementRate)} disagreement vs {Percent(overallRate)} overall).",
                _ => null,
            };
            yield return new Finding("Where disagreement concentrates", new Guideline
            {
                Text = text,
                SourceRowIds = Cite(analysis.Traces.Where(t => InSlice(t, slice))),
            }, rule);
        }
    }

    static string Describe(SliceSummary slice) => slice.Dimension switch
    {
        "input_length" => $"the input has {slice.Value}",
        "output_length" => $"the output has {slice.Value}",
        _ when slice.Dimension.StartsWith("tag:", StringComparison.Ordinal) => $"{slice.Dimension[4..]} = {slice.Value}",
        _ => $"{slice.Dimension} = {slice.Value}",
    };

    static bool InSlice(DisagreementTrace trace, SliceSummary slice) => slice.Dimension switch
    {
        "input_length" => DisagreementAnalyzer.LengthBucket(trace.InputText).Value == slice.Value,
        "output_length" => DisagreementAnalyzer.LengthBucket(trace.Output).Value == slice.Value,
        _ when slice.Dimension.StartsWith("tag:", StringComparison.Ordinal) =>
            trace.Tags.TryGetValue(slice.Dimension[4..], out var value) && value == slice.Value,
        _ => false,
    };

    static IEnumerable<Finding> ThemeFindings(TraceAnalysis analysis)
    {
        foreach (var group in analysis.CommentThemes.GroupBy(t => t.Source).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var chosen = new List<CommentTheme>();
            foreach (var theme in group)
            {
                if (chosen.Count == MaxThemesPerSource) break;
                // A word already covered by a chosen pair adds nothing to the reader.
                if (!theme.Phrase.Contains(' ') && chosen.Any(c => c.Phrase.Split(' ').Contains(theme.Phrase, StringComparer.Ordinal))) continue;
                chosen.Add(theme);
            }
            if (chosen.Count == 0) continue;
            var who = group.Key == "judge_explanation" ? "The judge's explanations" : "Reviewer comments";
            var phrases = string.Join(", ", chosen.Select(t => $"\"{t.Phrase}\" ({t.DisagreementRows} disagreement rows of {t.Rows} mentioning it)"));
            var rule = group.Key == "judge_explanation"
                ? $"Your explanations on disputed rows often mention {string.Join(", ", chosen.Select(t => $"\"{t.Phrase}\""))}: check that these points really justify the score you give."
                : $"Reviewers repeatedly cite {string.Join(", ", chosen.Select(t => $"\"{t.Phrase}\""))} on outputs where you disagreed with them: check for these explicitly.";
            yield return new Finding("Recurring themes", new Guideline
            {
                Text = $"{who} on disagreement rows recurrently mention {phrases}.",
                SourceRowIds = chosen.SelectMany(t => t.SampleRowIds).Distinct().Take(CitedRowsPerGuideline).ToList(),
            }, rule);
        }
    }

    sealed record Example(Guideline Guideline, string PromptLine);

    /// <summary>The first traces (already ordered most instructive and diverse first), one per judge level and direction before any repeat.</summary>
    static IReadOnlyList<Example> CalibrationExamples(TraceAnalysis analysis, ScaleGrid grid, bool qualitative)
    {
        string Stratum(DisagreementTrace t) => qualitative
            ? $"{t.JudgeLabel}|{t.HumanLabel}"
            : $"{(t.JudgeScore is { } s ? ScaleGrid.Format(grid.Category(s)) : "")}|{Math.Sign(t.Delta ?? 0)}";
        var picked = new List<DisagreementTrace>();
        var strata = new HashSet<string>(StringComparer.Ordinal);
        foreach (var trace in analysis.Traces)
            if (picked.Count < CalibrationExampleCount && strata.Add(Stratum(trace))) picked.Add(trace);
        foreach (var trace in analysis.Traces)
            if (picked.Count < CalibrationExampleCount && !picked.Contains(trace)) picked.Add(trace);

        return picked.Select(trace =>
        {
            var judge = qualitative ? $"\"{trace.JudgeLabel}\"" : F(trace.JudgeScore ?? 0);
            var human = qualitative ? $"\"{trace.HumanLabel}\"" : F(trace.HumanScore ?? 0);
            var reviewerValues = trace.Reviewers
                .Select(r => qualitative ? r.Label is null ? null : $"\"{r.Label}\"" : r.Score is { } s ? F(s) : null)
                .Where(v => v is not null)
                .ToList();
            var text = new StringBuilder($"Row {trace.RowId}");
            if (!string.IsNullOrEmpty(trace.ExternalId)) text.Append($" ({trace.ExternalId})");
            text.Append($": the judge gave {judge}, reviewers gave {(reviewerValues.Count > 0 ? string.Join(", ", reviewerValues) + $" (resolved {human})" : human)}.");
            if (!string.IsNullOrWhiteSpace(trace.InputText)) text.Append($" Input: \"{TextExcerpt.Of(trace.InputText, ExcerptLength)}\"");
            text.Append($" Output: \"{TextExcerpt.Of(trace.Output, ExcerptLength)}\"");
            var comment = trace.Reviewers.Select(r => r.Comment).FirstOrDefault(c => !string.IsNullOrWhiteSpace(c));
            if (comment is not null) text.Append($" Reviewer comment: \"{TextExcerpt.Of(comment, ExcerptLength)}\"");
            if (!string.IsNullOrWhiteSpace(trace.JudgeExplanation)) text.Append($" Judge explanation: \"{TextExcerpt.Of(trace.JudgeExplanation, ExcerptLength)}\"");

            var verdict = qualitative
                ? $"reviewers answered {human}, not {judge}"
                : $"reviewers scored it {human}, so {judge} was too {(trace.Delta > 0 ? "high" : "low")}";
            var promptLine = $"Output: \"{TextExcerpt.Of(trace.Output, ExcerptLength)}\" — {verdict}"
                + (comment is null ? "." : $" (a reviewer noted: \"{TextExcerpt.Of(comment, ExcerptLength / 2)}\").");
            return new Example(new Guideline { Text = text.ToString(), SourceRowIds = [trace.RowId] }, promptLine);
        }).ToList();
    }

    static string RefinedPrompt(MetricDefinition metric, TraceAnalysis analysis, IReadOnlyList<Finding> findings, IReadOnlyList<Example> examples)
    {
        var prompt = new StringBuilder(WithoutPreviousSection(metric.SystemPrompt).TrimEnd());
        prompt.Append("\n\n").Append(SectionStart).Append('\n');
        prompt.Append($"These guidelines come from comparing your past {(metric.Type == MetricType.Qualitative ? "labels" : "scores")} with human reviewers on {analysis.Statistics.RowCount} rows. ");
        prompt.Append("The rubric above still defines the metric; use them to calibrate how you apply it.\n");
        var number = 0;
        foreach (var rule in findings.Select(f => f.PromptRule).OfType<string>())
            prompt.Append($"{++number}. {rule}\n");
        if (examples.Count > 0)
        {
            prompt.Append("Calibration examples (outputs where you and the reviewers disagreed):\n");
            foreach (var example in examples) prompt.Append($"- {example.PromptLine}\n");
        }
        prompt.Append(SectionEnd);
        return prompt.ToString();
    }

    /// <summary>Re-aligning a prompt this distiller already refined replaces its section instead of stacking a second one.</summary>
    internal static string WithoutPreviousSection(string prompt)
    {
        var start = prompt.IndexOf(SectionStart, StringComparison.Ordinal);
        if (start < 0) return prompt;
        var end = prompt.IndexOf(SectionEnd, start, StringComparison.Ordinal);
        return end < 0 ? prompt : prompt[..start] + prompt[(end + SectionEnd.Length)..];
    }

    static string Markdown(MetricDefinition metric, TraceAnalysis analysis, bool qualitative, IReadOnlyList<Finding> findings,
        IReadOnlyList<Example> examples, IReadOnlyList<string> warnings)
    {
        var statistics = analysis.Statistics;
        var md = new StringBuilder();
        md.Append($"# Calibration guidelines: {metric.Name} ({metric.Key} v{metric.Version})\n\n");
        md.Append($"{analysis.RowsLoaded} rows loaded; {statistics.RowCount} compared; {analysis.Disagreements} disagreements ");
        md.Append(qualitative ? "(labels differ)" : $"(|judge - human| >= {F(analysis.DeltaThreshold)})");
        md.Append($"; {analysis.AgreeingRowsSkipped} agreeing rows skipped");
        if (analysis.RowsMissingValues > 0) md.Append($"; {analysis.RowsMissingValues} rows lacking a judge or human value");
        md.Append(".\n\n## Agreement\n\n| statistic | value |\n|---|---|\n");
        md.Append($"| {(qualitative ? "accuracy" : "exact agreement")} | {Percent(statistics.ExactAgreement)} |\n");
        if (statistics.WithinOne is { } withinOne) md.Append($"| within one point | {Percent(withinOne)} |\n");
        if (statistics.MeanAbsoluteError is { } mae) md.Append($"| mean absolute error | {F2(mae)} |\n");
        if (statistics.SignedBias is { } bias) md.Append($"| signed bias (judge - human) | {Signed(bias)} |\n");
        if (statistics.Spearman is { } spearman) md.Append($"| Spearman | {F2(spearman)} |\n");
        if (statistics.QuadraticWeightedKappa is { } qwk) md.Append($"| quadratic-weighted kappa | {F2(qwk)} |\n");
        if (statistics.CohensKappa is { } kappa) md.Append($"| Cohen's kappa | {F2(kappa)} |\n");
        if (statistics.ReviewerAlpha is { } alpha) md.Append($"| reviewers' Krippendorff's alpha (ceiling) | {F2(alpha)} |\n");

        if (findings.Count > 0)
        {
            md.Append("\n## Guidelines\n");
            foreach (var section in findings.GroupBy(f => f.Section))
            {
                md.Append($"\n### {section.Key}\n\n");
                foreach (var finding in section)
                    md.Append($"- {finding.Guideline.Text}{Citation(finding.Guideline.SourceRowIds)}\n");
            }
        }
        if (examples.Count > 0)
        {
            md.Append("\n## Calibration examples\n\n");
            var number = 0;
            foreach (var example in examples) md.Append($"{++number}. {example.Guideline.Text}\n");
        }
        if (warnings.Count > 0)
        {
            md.Append("\n## Warnings\n\n");
            foreach (var warning in warnings) md.Append($"- {warning}\n");
        }
        return md.ToString();
    }

    static string Citation(IReadOnlyList<Guid> rowIds) =>
        rowIds.Count == 0 ? "" : $" _(rows: {string.Join(", ", rowIds)})_";

    static List<Guid> Cite(IEnumerable<DisagreementTrace> traces) =>
        traces.Select(t => t.RowId).Distinct().Take(CitedRowsPerGuideline).ToList();

    static string F(double value) => ScaleGrid.Format(value);
    static string F2(double value) => value.ToString("0.00", Invariant);
    static string Signed(double value) => value.ToString("+0.00;-0.00;0.00", Invariant);
    static string Percent(double ratio) => (ratio * 100).ToString("0", Invariant) + "%";
}
