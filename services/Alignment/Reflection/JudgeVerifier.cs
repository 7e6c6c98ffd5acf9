using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MetricAlignment.Alignment.Analysis;

namespace MetricAlignment.Alignment.Reflection;

public sealed record VerificationRequest
{
    public required MetricDefinition Metric { get; init; }
    public required TraceAnalysis Analysis { get; init; }
    /// <summary>From a <see cref="VerificationSampler"/> fed the run's rows: agreeing rows besides disagreeing ones.</summary>
    public IReadOnlyList<VerificationRow> SampledRows { get; init; } = [];
    public required IReflectionEngine ReflectionEngine { get; init; }
    public string? ReflectionModel { get; init; }
    /// <summary>An LLM provider (the built-in distiller cannot judge); the catalog's default when null.</summary>
    public string? JudgeProvider { get; init; }
    public string? JudgeModel { get; init; }
}

/// <summary>Per held-out row: the human reference and the judge's re-scored values under both prompts.</summary>
public sealed record VerifiedRow
{
    public required Guid RowId { get; init; }
    public double? HumanScore { get; init; }
    public string? HumanLabel { get; init; }
    public double? BaselineScore { get; init; }
    public string? BaselineLabel { get; init; }
    public double? RefinedScore { get; init; }
    public string? RefinedLabel { get; init; }
    public required bool BaselineDisagrees { get; init; }
    public required bool RefinedDisagrees { get; init; }
}

public sealed record VerificationReport
{
    /// <summary>The refinement distilled from the distillation part only (the one that was verified).</summary>
    public required DistillationResult Distillation { get; init; }
    public required IReadOnlyList<Guid> DistillationRowIds { get; init; }
    public required IReadOnlyList<Guid> HeldOutRowIds { get; init; }
    /// <summary>The held-out rows re-scored by the judge under the current prompt.</summary>
    public required AgreementStatistics Baseline { get; init; }
    /// <summary>The same rows re-scored under the refined prompt.</summary>
    public required AgreementStatistics Refined { get; init; }
    /// <summary>Rows the refined prompt brings into agreement that the current one did not.</summary>
    public required IReadOnlyList<Guid> RowsFixed { get; init; }
    /// <summary>Rows the current prompt agreed on and the refined one does not.</summary>
    public required IReadOnlyList<Guid> RowsMadeWorse { get; init; }
    public required bool Improved { get; init; }
    /// <summary>A plain sentence for the run's page.</summary>
    public required string Summary { get; init; }
    public required IReadOnlyList<VerifiedRow> Rows { get; init; }
    public required string JudgeProvider { get; init; }
    public required string JudgeModel { get; init; }
    public required int Seed { get; init; }
}

/// <summary>
/// Checks that a refined prompt actually helps: the rows are split (seeded, per stratum) into a distillation part and a
/// held-out part; the reflection engine sees only the first; the judge model re-scores every held-out row under the
/// current prompt and under the refined one, and the two agreement figures are reported side by side.
/// </summary>
public sealed class JudgeVerifier
{
    public const string BaselinePhase = "verification.baseline";
    public const string RefinedPhase = "verification.refined";
    public const string NoImprovement = "Verification did not show an improvement";
    const double Tolerance = 1e-9;

    static readonly Regex Placeholder = new(@"\{\{\s*(input|output|context)\s*\}\}", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    readonly ProviderCatalog catalog;
    readonly LlmProviderRegistry providers;
    readonly VerificationOptions options;
    readonly ReflectionOptions reflectionOptions;
    readonly ILogger logger;

    public JudgeVerifier(ProviderCatalog catalog, LlmProviderRegistry providers, VerificationOptions options, ReflectionOptions reflectionOptions,
        ILogger<JudgeVerifier> logger)
    {
        this.catalog = catalog;
        this.providers = providers;
        this.options = options;
        this.reflectionOptions = reflectionOptions;
        this.logger = logger;
    }

    /// <summary>The seeded split: per stratum (disagreeing, agreeing), the rows with the smallest seeded hashes are held out.</summary>
    public (IReadOnlyList<VerificationRow> Distillation, IReadOnlyList<VerificationRow> HeldOut) Split(IEnumerable<VerificationRow> rows)
    {
        var distillation = new List<VerificationRow>();
        var heldOut = new List<VerificationRow>();
        foreach (var stratum in rows.DistinctBy(r => r.RowId).GroupBy(r => r.IsDisagreement).OrderByDescending(g => g.Key))
        {
            var ordered = stratum.OrderBy(r => SeededHash.Of(options.Seed, r.RowId)).ThenBy(r => r.RowId).ToList();
            var holdCount = ordered.Count < 2 ? 0 : Math.Clamp((int)Math.Round(ordered.Count * options.HeldOutFraction, MidpointRounding.AwayFromZero), 1, ordered.Count - 1);
            heldOut.AddRange(ordered.Take(holdCount));
            distillation.AddRange(ordered.Skip(holdCount));
        }
        return (distillation, heldOut);
    }

    public async Task<VerificationReport> VerifyAsync(VerificationRequest request, RunTokenMeter meter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(meter);
        var judgeSelection = catalog.Require(request.JudgeProvider, request.JudgeModel);
        if (judgeSelection.IsBuiltIn)
            throw new ArgumentException($"Judge verification needs a model: the '{ProviderCatalog.BuiltIn}' provider cannot score rows. Choose an LLM judge provider.");
        var judge = providers.Get(judgeSelection.Provider);
        var metric = request.Metric;

        // Sampled rows carry the context the judge template may need, so they win over the analysis' copy of a trace.
        var pool = request.SampledRows.Concat(request.Analysis.Traces.Select(VerificationRow.FromTrace)).DistinctBy(r => r.RowId).ToList();
        var (distillationRows, heldOut) = Split(pool);
        var heldOutIds = heldOut.Select(r => r.RowId).ToHashSet();
        var distillationAnalysis = request.Analysis with { Traces = request.Analysis.Traces.Where(t => !heldOutIds.Contains(t.RowId)).ToList() };
        var distillation = await request.ReflectionEngine.DistillAsync(
            new DistillationRequest { Metric = metric, Analysis = distillationAnalysis, Model = request.ReflectionModel }, meter, cancellationToken).ConfigureAwait(false);

        var verified = new ConcurrentBag<VerifiedRow>();
        await Parallel.ForEachAsync(heldOut, new ParallelOptions { MaxDegreeOfParallelism = judge.MaxConcurrency, CancellationToken = cancellationToken },
            async (row, token) =>
            {
                var baseline = await ScoreAsync(judge, judgeSelection.Model!, metric, metric.SystemPrompt, metric.UserPromptTemplate, row, BaselinePhase, meter, token).ConfigureAwait(false);
                var refined = await ScoreAsync(judge, judgeSelection.Model!, metric, distillation.RefinedSystemPrompt, distillation.RefinedUserPromptTemplate, row, RefinedPhase, meter, token).ConfigureAwait(false);
                verified.Add(new VerifiedRow
                {
                    RowId = row.RowId,
                    HumanScore = row.HumanScore,
                    HumanLabel = row.HumanLabel,
                    BaselineScore = baseline.Score,
                    BaselineLabel = baseline.Label,
                    RefinedScore = refined.Score,
                    RefinedLabel = refined.Label,
                    BaselineDisagrees = Disagrees(metric, request.Analysis.DeltaThreshold, baseline, row),
                    RefinedDisagrees = Disagrees(metric, request.Analysis.DeltaThreshold, refined, row),
                });
            }).ConfigureAwait(false);

        var order = heldOut.Select((r, i) => (r.RowId, i)).ToDictionary(p => p.RowId, p => p.i);
        var rows = verified.OrderBy(v => order[v.RowId]).ToList();
        var (baselineStatistics, refinedStatistics) = metric.Type == MetricType.Qualitative
            ? (VerificationStatistics.Labels(metric, rows.Select(r => (r.BaselineLabel!, Canonical(metric, r.HumanLabel!))).ToList()),
               VerificationStatistics.Labels(metric, rows.Select(r => (r.RefinedLabel!, Canonical(metric, r.HumanLabel!))).ToList()))
            : (VerificationStatistics.Scores(metric, rows.Select(r => (r.BaselineScore!.Value, r.HumanScore!.Value)).ToList()),
               VerificationStatistics.Scores(metric, rows.Select(r => (r.RefinedScore!.Value, r.HumanScore!.Value)).ToList()));
        var fixedRows = rows.Where(r => r.BaselineDisagrees && !r.RefinedDisagrees).Select(r => r.RowId).ToList();
        var worseRows = rows.Where(r => !r.BaselineDisagrees && r.RefinedDisagrees).Select(r => r.RowId).ToList();
        var (improved, summary) = Verdict(metric, rows.Count, baselineStatistics, refinedStatistics, fixedRows.Count, worseRows.Count);
        logger.LogInformation("Judge verification on {HeldOut} held-out rows with {Provider}/{Model}: {Summary}",
            rows.Count, judgeSelection.Provider, judgeSelection.Model, summary);

        return new VerificationReport
        {
            Distillation = distillation,
            DistillationRowIds = distillationRows.Select(r => r.RowId).ToList(),
            HeldOutRowIds = heldOut.Select(r => r.RowId).ToList(),
            Baseline = baselineStatistics,
            Refined = refinedStatistics,
            RowsFixed = fixedRows,
            RowsMadeWorse = worseRows,
            Improved = improved,
            Summary = summary,
            Rows = rows,
            JudgeProvider = judgeSelection.Provider,
            JudgeModel = judgeSelection.Model!,
            Seed = options.Seed,
        };
    }

    static (bool Improved, string Summary) Verdict(MetricDefinition metric, int rows, AgreementStatistics baseline, AgreementStatistics refined, int fixedCount, int worseCount)
    {
        if (rows == 0)
            return (false, $"{NoImprovement}: there were too few rows to hold any out for verification.");
        var qualitative = metric.Type == MetricType.Qualitative;
        var figures = qualitative
            ? $"accuracy {Percent(baseline.ExactAgreement)} -> {Percent(refined.ExactAgreement)}"
            : $"MAE {F2(baseline.MeanAbsoluteError)} -> {F2(refined.MeanAbsoluteError)}, exact agreement {Percent(baseline.ExactAgreement)} -> {Percent(refined.ExactAgreement)}";
        var changes = $"{fixedCount} row{(fixedCount == 1 ? "" : "s")} fixed, {worseCount} made worse, on {rows} held-out rows";
        var better = qualitative
            ? refined.ExactAgreement > baseline.ExactAgreement + Tolerance
            : refined.MeanAbsoluteError < baseline.MeanAbsoluteError - Tolerance && refined.ExactAgreement >= baseline.ExactAgreement - Tolerance;
        var improved = better && fixedCount > worseCount;
        return improved
            ? (true, $"The refined prompt improved agreement on held-out rows: {figures}; {changes}.")
            : (false, $"{NoImprovement}: {figures}; {changes}.");
    }

    static string Percent(double ratio) => (ratio * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";
    static string F2(double? value) => value?.ToString("0.00", CultureInfo.InvariantCulture) ?? "n/a";

    bool Disagrees(MetricDefinition metric, double threshold, JudgeAnswer answer, VerificationRow row)
    {
        if (metric.Type == MetricType.Qualitative)
            return !string.Equals(answer.Label, Canonical(metric, row.HumanLabel ?? ""), StringComparison.Ordinal);
        var distance = Math.Abs(answer.Score!.Value - (row.HumanScore ?? double.NaN));
        return !(distance <= Tolerance) && (double.IsNaN(distance) || distance >= threshold - Tolerance);
    }

    static string Canonical(MetricDefinition metric, string label)
    {
        var trimmed = label.Trim();
        return metric.Labels.Select(l => l.Trim()).FirstOrDefault(l => string.Equals(l, trimmed, StringComparison.OrdinalIgnoreCase)) ?? trimmed;
    }

    sealed record JudgeAnswer(double? Score, string? Label, string Explanation);

    async Task<JudgeAnswer> ScoreAsync(LlmProvider judge, string model, MetricDefinition metric, string systemPrompt, string template, VerificationRow row,
        string phase, RunTokenMeter meter, CancellationToken cancellationToken)
    {
        var user = Placeholder.Replace(template, match => match.Groups[1].Value.ToLowerInvariant() switch
        {
            "input" => row.InputText,
            "output" => row.Output,
            _ => row.Context ?? "",
        });
        var call = new ModelCall
        {
            Model = model,
            Phase = phase,
            SystemPrompt = systemPrompt,
            UserPrompt = user,
            SchemaName = "judgement",
            Schema = JudgeSchema(metric),
            MaxOutputTokens = options.MaxOutputTokens,
            Temperature = 0,
        };
        return await StructuredCall.AskAsync(judge, call, answer => ParseJudgement(metric, answer), reflectionOptions.MaxMalformedAnswerRetries,
            $"re-scoring row {row.RowId} ({phase})", meter, logger, cancellationToken).ConfigureAwait(false);
    }

    static BinaryData JudgeSchema(MetricDefinition metric)
    {
        var valueProperty = metric.Type == MetricType.Qualitative
            ? metric.Labels.Count > 0
                ? new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(metric.Labels.Select(l => (JsonNode?)JsonValue.Create(l.Trim())).ToArray()) }
                : new JsonObject { ["type"] = "string" }
            : new JsonObject { ["type"] = "number" };
        var valueName = metric.Type == MetricType.Qualitative ? "label" : "score";
        return PromptData.Schema(new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { [valueName] = valueProperty, ["explanation"] = new JsonObject { ["type"] = "string" } },
            ["required"] = new JsonArray(valueName, "explanation"),
            ["additionalProperties"] = false,
        });
    }

    static JudgeAnswer ParseJudgement(MetricDefinition metric, string answer)
    {
        var root = PromptData.ParseObject(answer);
        var explanation = root["explanation"] is JsonValue e && e.GetValueKind() == System.Text.Json.JsonValueKind.String ? e.GetValue<string>() : "";
        if (metric.Type == MetricType.Qualitative)
        {
            var label = PromptData.RequiredString(root, "label", "the judgement");
            if (metric.Labels.Count > 0)
            {
                var canonical = metric.Labels.Select(l => l.Trim()).FirstOrDefault(l => string.Equals(l, label, StringComparison.OrdinalIgnoreCase))
                    ?? throw new FormatException($"the label \"{(label.Length > 40 ? label[..40] + "…" : label)}\" is not one of the metric's labels");
                label = canonical;
            }
            return new JudgeAnswer(null, label, explanation);
        }
        if (root["score"] is not JsonValue value || value.GetValueKind() != System.Text.Json.JsonValueKind.Number)
            throw new FormatException("the judgement has no numeric \"score\"");
        var score = value.GetValue<double>();
        if (!double.IsFinite(score) || (metric.ScaleMin is { } min && score < min - Tolerance) || (metric.ScaleMax is { } max && score > max + Tolerance))
            throw new FormatException($"the score {score.ToString(CultureInfo.InvariantCulture)} is outside the metric's scale {ScaleGrid.Format(metric.ScaleMin ?? 0)}-{ScaleGrid.Format(metric.ScaleMax ?? 0)}");
        return new JudgeAnswer(score, null, explanation);
    }
}
