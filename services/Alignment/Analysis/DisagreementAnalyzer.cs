using System.Globalization;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Analysis;

/// <summary>
/// Phase 2 of a run: folds the streamed resolved rows into a <see cref="TraceAnalysis"/>. Memory is bounded by the
/// scale (value histograms, per-level and per-slice counters), the tags, a capped vocabulary and the trace heaps —
/// never by the number of rows — so a run over millions of rows holds no more than a run over hundreds.
/// </summary>
public sealed class DisagreementAnalyzer
{
    /// <summary>A tag with more distinct values than this identifies rows rather than groups them: no slices for it.</summary>
    public const int MaxValuesPerTag = 50;
    const int MaxTrackedTags = 20;
    const int MaxTraceTextLength = 4000;
    const int MinimumDisagreementsForConfidence = 10;
    const double PoorReviewerAlpha = 0.4;
    const double Tolerance = 1e-9;

    readonly MetricDefinition metric;
    readonly double deltaThreshold;
    readonly int maxTraces;
    readonly bool qualitative;
    readonly ScaleGrid grid;
    readonly Dictionary<string, string> canonicalLabels = new(StringComparer.OrdinalIgnoreCase);

    int comparableRows, missingValues, disagreements, exactMatches, withinOneStep, outsideScale;
    double sumAbsoluteDelta, sumSignedDelta;
    readonly Dictionary<(double Judge, double Human), double> scoreJoint = new();
    readonly Dictionary<(string Judge, string Human), double> labelJoint = new();
    readonly CoincidenceMatrix<double> reviewerScores = new();
    readonly CoincidenceMatrix<string> reviewerLabels = new();
    readonly Dictionary<string, LevelAccumulator> levels = new(StringComparer.Ordinal);
    readonly Dictionary<string, Dictionary<string, SliceAccumulator>> slices = new(StringComparer.Ordinal);
    readonly HashSet<string> untrackedTags = new(StringComparer.Ordinal);
    readonly ThemeCounter reviewerThemes = new("reviewer_comment");
    readonly ThemeCounter judgeThemes = new("judge_explanation");
    readonly TraceSelector traces;

    sealed class LevelAccumulator
    {
        public double? JudgeScore;
        public int Rows, Disagreements, JudgeHigher, JudgeLower;
        public double SumHuman;
        public readonly Dictionary<string, int> HumanLabels = new(StringComparer.Ordinal);
    }

    sealed class SliceAccumulator
    {
        public int Order, Rows, Disagreements;
        public double SumDelta;
    }

    public DisagreementAnalyzer(MetricDefinition metric, double deltaThreshold, int maxTraces = 200)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTraces);
        if (double.IsNaN(deltaThreshold) || deltaThreshold < 0)
            throw new ArgumentOutOfRangeException(nameof(deltaThreshold), deltaThreshold, "The delta threshold must be a non-negative number.");
        this.metric = metric;
        this.deltaThreshold = deltaThreshold;
        this.maxTraces = maxTraces;
        qualitative = metric.Type == MetricType.Qualitative;
        grid = new ScaleGrid(metric.ScaleMin, metric.ScaleMax);
        foreach (var label in metric.Labels)
            canonicalLabels.TryAdd(label.Trim(), label.Trim());
        traces = new TraceSelector(maxTraces);
    }

    public int RowsSeen { get; private set; }

    public void Add(ResolvedRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        RowsSeen++;
        AddReviewers(row);
        if (qualitative) AddLabels(row);
        else AddScores(row);
    }

    void AddReviewers(ResolvedRow row)
    {
        if (qualitative)
            reviewerLabels.AddUnit(row.Reviewers.Where(r => !string.IsNullOrWhiteSpace(r.Label)).Select(r => Canonical(r.Label!)).ToList());
        else
            reviewerScores.AddUnit(row.Reviewers.Where(r => r.Score is { } s && double.IsFinite(s)).Select(r => grid.Key(r.Score!.Value)).ToList());
    }

    void AddScores(ResolvedRow row)
    {
        if (row.JudgeScore is not { } judge || row.ResolvedScore is not { } human || !double.IsFinite(judge) || !double.IsFinite(human))
        {
            missingValues++;
            return;
        }
        comparableRows++;
        if (grid.IsOutside(judge) || grid.IsOutside(human)) outsideScale++;
        var delta = judge - human;
        var distance = Math.Abs(delta);
        var isDisagreement = distance > Tolerance && distance >= deltaThreshold - Tolerance;
        sumAbsoluteDelta += distance;
        sumSignedDelta += delta;
        if (distance <= Tolerance) exactMatches++;
        if (distance <= grid.Step + Tolerance) withinOneStep++;
        var key = (grid.Key(judge), grid.Key(human));
        scoreJoint[key] = scoreJoint.GetValueOrDefault(key) + 1;

        var judgeCategory = grid.Category(judge);
        var level = Level(ScaleGrid.Format(judgeCategory));
        level.JudgeScore = judgeCategory;
        level.Rows++;
        level.SumHuman += human;
        if (isDisagreement)
        {
            level.Disagreements++;
            if (delta > 0) level.JudgeHigher++;
            else level.JudgeLower++;
        }
        var stratum = $"{ScaleGrid.Format(judgeCategory)}|{(delta > 0 ? "judge_higher" : "judge_lower")}";
        Fold(row, isDisagreement, delta, stratum, distance + Bonus(row));
    }

    void AddLabels(ResolvedRow row)
    {
        if (string.IsNullOrWhiteSpace(row.JudgeLabel) || string.IsNullOrWhiteSpace(row.ResolvedLabel))
        {
            missingValues++;
            return;
        }
        comparableRows++;
        var judge = Canonical(row.JudgeLabel);
        var human = Canonical(row.ResolvedLabel);
        var isDisagreement = !string.Equals(judge, human, StringComparison.Ordinal);
        if (!isDisagreement) exactMatches++;
        var key = (judge, human);
        labelJoint[key] = labelJoint.GetValueOrDefault(key) + 1;

        var level = Level(judge);
        level.Rows++;
        level.HumanLabels[human] = level.HumanLabels.GetValueOrDefault(human) + 1;
        if (isDisagreement) level.Disagreements++;
        Fold(row, isDisagreement, null, $"{judge}|{human}", 1 + Bonus(row));
    }

    /// <summary>The parts common to both metric types: counts, slices, themes and trace candidates.</summary>
    void Fold(ResolvedRow row, bool isDisagreement, double? delta, string stratum, double score)
    {
        if (isDisagreement) disagreements++;
        var inputText = InputText(row.Input);
        AddToSlice("input_length", LengthBucket(inputText), isDisagreement, delta);
        AddToSlice("output_length", LengthBucket(row.Output), isDisagreement, delta);
        foreach (var (key, value) in row.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
            AddToTagSlice(key, value, isDisagreement, delta);

        reviewerThemes.Add(row.Reviewers.Select(r => r.Comment), row.RowId, isDisagreement);
        judgeThemes.Add([row.JudgeExplanation], row.RowId, isDisagreement);

        if (!isDisagreement) return;
        var trackedTags = row.Tags.Where(t => slices.ContainsKey("tag:" + t.Key)).ToList();
        if (!traces.WouldKeep(score, row.RowId, stratum, trackedTags)) return;
        var trace = new DisagreementTrace
        {
            RowId = row.RowId,
            EvaluationId = row.EvaluationId,
            ExternalId = row.ExternalId,
            InputText = Truncate(inputText),
            Output = Truncate(row.Output),
            Tags = new Dictionary<string, string>(row.Tags, StringComparer.Ordinal),
            JudgeScore = row.JudgeScore,
            JudgeLabel = row.JudgeLabel,
            JudgeExplanation = row.JudgeExplanation,
            HumanScore = row.ResolvedScore,
            HumanLabel = row.ResolvedLabel,
            Reviewers = row.Reviewers.ToList(),
            Delta = delta,
        };
        traces.Add(new TraceSelector.Candidate(trace, score, stratum), trackedTags);
    }

    /// <summary>
    /// Rows are more instructive when the reviewers agree among themselves (the human reference is firm) and when
    /// someone explained their value; both bonuses stay below half a point so the size of the delta ranks first.
    /// </summary>
    double Bonus(ResolvedRow row)
    {
        var bonus = 0d;
        if (!qualitative)
        {
            var scores = row.Reviewers.Where(r => r.Score is { } s && double.IsFinite(s)).Select(r => r.Score!.Value).ToList();
            if (scores.Count >= 2)
            {
                var range = grid.Min is { } lo && grid.Max is { } hi ? hi - lo : Math.Max(1, scores.Max() - scores.Min());
                bonus += 0.3 * Math.Max(0, 1 - (scores.Max() - scores.Min()) / range);
            }
        }
        else
        {
            var labels = row.Reviewers.Where(r => !string.IsNullOrWhiteSpace(r.Label)).Select(r => Canonical(r.Label!)).ToList();
            if (labels.Count >= 2 && labels.Distinct(StringComparer.Ordinal).Count() == 1) bonus += 0.3;
        }
        if (row.Reviewers.Any(r => !string.IsNullOrWhiteSpace(r.Comment)) || !string.IsNullOrWhiteSpace(row.JudgeExplanation))
            bonus += 0.1;
        return bonus;
    }

    LevelAccumulator Level(string name)
    {
        if (!levels.TryGetValue(name, out var level)) levels[name] = level = new LevelAccumulator();
        return level;
    }

    void AddToTagSlice(string key, string value, bool isDisagreement, double? delta)
    {
        if (untrackedTags.Contains(key)) return;
        var dimension = "tag:" + key;
        if (!slices.TryGetValue(dimension, out var values))
        {
            if (slices.Count - 2 >= MaxTrackedTags)
            {
                untrackedTags.Add(key);
                return;
            }
        }
        else if (values.Count >= MaxValuesPerTag && !values.ContainsKey(value))
        {
            slices.Remove(dimension);
            untrackedTags.Add(key);
            traces.DropTag(key);
            return;
        }
        AddToSlice(dimension, (0, value), isDisagreement, delta);
    }

    void AddToSlice(string dimension, (int Order, string Value) bucket, bool isDisagreement, double? delta)
    {
        if (!slices.TryGetValue(dimension, out var values)) slices[dimension] = values = new Dictionary<string, SliceAccumulator>(StringComparer.Ordinal);
        if (!values.TryGetValue(bucket.Value, out var slice)) values[bucket.Value] = slice = new SliceAccumulator { Order = bucket.Order };
        slice.Rows++;
        if (isDisagreement) slice.Disagreements++;
        slice.SumDelta += delta ?? 0;
    }

    /// <summary>Word-count buckets doubling in size (1, 2-3, 4-7, ... words): few buckets whatever the lengths.</summary>
    internal static (int Order, string Value) LengthBucket(string text)
    {
        var words = CountWords(text);
        if (words == 0) return (-1, "0 words");
        var power = (int)Math.Floor(Math.Log2(words));
        var low = 1L << power;
        var high = (1L << (power + 1)) - 1;
        return (power, low == high ? $"{low} word{(low == 1 ? "" : "s")}" : $"{low}-{high} words");
    }

    static int CountWords(string text)
    {
        var count = 0;
        var inWord = false;
        foreach (var ch in text)
        {
            if (char.IsWhiteSpace(ch)) inWord = false;
            else if (!inWord)
            {
                inWord = true;
                count++;
            }
        }
        return count;
    }

    internal static string InputText(RowInput input) =>
        input.Text ?? string.Join("\n", (input.Messages ?? []).Select(m => $"{m.Role}: {m.Content}"));

    static string Truncate(string text) =>
        text.Length <= MaxTraceTextLength ? text : string.Concat(text.AsSpan(0, MaxTraceTextLength), " […]");

    string Canonical(string label)
    {
        var trimmed = label.Trim();
        return canonicalLabels.TryGetValue(trimmed, out var canonical) ? canonical : trimmed;
    }

    public TraceAnalysis Complete()
    {
        var statistics = qualitative ? LabelStatistics() : ScoreStatistics();
        var trackedTagKeys = slices.Keys.Where(k => k.StartsWith("tag:", StringComparison.Ordinal)).Select(k => k[4..]).Order(StringComparer.Ordinal).ToList();
        return new TraceAnalysis
        {
            RowsLoaded = RowsSeen,
            Disagreements = disagreements,
            AgreeingRowsSkipped = comparableRows - disagreements,
            RowsMissingValues = missingValues,
            DeltaThreshold = deltaThreshold,
            Statistics = statistics,
            Traces = traces.Select(maxTraces, trackedTagKeys),
            PerJudgeLevel = LevelSummaries(),
            Slices = SliceSummaries(),
            CommentThemes = [.. reviewerThemes.Themes(20, 2), .. judgeThemes.Themes(20, 2)],
            Warnings = Warnings(statistics),
        };
    }

    AgreementStatistics ScoreStatistics()
    {
        var categories = grid.Points(scoreJoint.Keys.SelectMany(k => new[] { grid.Category(k.Judge), grid.Category(k.Human) }));
        var index = categories.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        var matrix = new double[categories.Count, categories.Count];
        foreach (var ((judge, human), count) in scoreJoint)
            matrix[index[grid.Category(judge)], index[grid.Category(human)]] += count;
        return new AgreementStatistics
        {
            RowCount = comparableRows,
            ExactAgreement = Ratio(exactMatches, comparableRows),
            WithinOne = comparableRows == 0 ? null : Ratio(withinOneStep, comparableRows),
            MeanAbsoluteError = comparableRows == 0 ? null : sumAbsoluteDelta / comparableRows,
            SignedBias = comparableRows == 0 ? null : sumSignedDelta / comparableRows,
            Spearman = AgreementMath.Spearman(scoreJoint.Select(c => (c.Key.Judge, c.Key.Human, c.Value))),
            QuadraticWeightedKappa = AgreementMath.QuadraticWeightedKappa(matrix),
            Categories = categories.Select(ScaleGrid.Format).ToList(),
            ConfusionMatrix = ToRows(matrix),
            ReviewerAlpha = reviewerScores.Alpha(AgreementMath.IntervalDistance),
        };
    }

    AgreementStatistics LabelStatistics()
    {
        var declared = canonicalLabels.Values.Distinct(StringComparer.Ordinal).ToList();
        var extra = labelJoint.Keys.SelectMany(k => new[] { k.Judge, k.Human })
            .Where(l => !declared.Contains(l, StringComparer.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);
        var categories = declared.Concat(extra).ToList();
        var index = categories.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var matrix = new double[categories.Count, categories.Count];
        foreach (var ((judge, human), count) in labelJoint)
            matrix[index[judge], index[human]] += count;
        return new AgreementStatistics
        {
            RowCount = comparableRows,
            ExactAgreement = Ratio(exactMatches, comparableRows),
            CohensKappa = AgreementMath.CohensKappa(matrix),
            Categories = categories,
            ConfusionMatrix = ToRows(matrix),
            ReviewerAlpha = reviewerLabels.Alpha(AgreementMath.NominalDistance),
        };
    }

    static IReadOnlyList<IReadOnlyList<int>> ToRows(double[,] matrix)
    {
        var rows = new List<IReadOnlyList<int>>();
        for (var i = 0; i < matrix.GetLength(0); i++)
        {
            var row = new int[matrix.GetLength(1)];
            for (var j = 0; j < row.Length; j++) row[j] = (int)Math.Round(matrix[i, j]);
            rows.Add(row);
        }
        return rows;
    }

    static double Ratio(int part, int whole) => whole == 0 ? 0 : (double)part / whole;

    IReadOnlyList<JudgeLevelSummary> LevelSummaries()
    {
        var ordered = qualitative
            ? levels.OrderBy(l => LabelOrder(l.Key)).ThenBy(l => l.Key, StringComparer.Ordinal)
            : levels.OrderBy(l => l.Value.JudgeScore).ThenBy(l => l.Key, StringComparer.Ordinal);
        return ordered.Select(l => new JudgeLevelSummary
        {
            Level = l.Key,
            JudgeScore = l.Value.JudgeScore,
            Rows = l.Value.Rows,
            MeanHumanScore = qualitative || l.Value.Rows == 0 ? null : l.Value.SumHuman / l.Value.Rows,
            Disagreements = l.Value.Disagreements,
            JudgeHigher = l.Value.JudgeHigher,
            JudgeLower = l.Value.JudgeLower,
            HumanLabels = l.Value.HumanLabels
                .OrderByDescending(h => h.Value).ThenBy(h => h.Key, StringComparer.Ordinal)
                .Select(h => new LabelCount { Label = h.Key, Rows = h.Value })
                .ToList(),
        }).ToList();
    }

    int LabelOrder(string label)
    {
        var position = metric.Labels.Select(l => l.Trim()).ToList().IndexOf(label);
        return position < 0 ? int.MaxValue : position;
    }

    IReadOnlyList<SliceSummary> SliceSummaries() =>
        slices
            .OrderBy(d => d.Key.StartsWith("tag:", StringComparison.Ordinal) ? 1 : 0)
            .ThenBy(d => d.Key, StringComparer.Ordinal)
            .SelectMany(d => d.Value
                .OrderBy(v => v.Value.Order)
                .ThenBy(v => v.Key, StringComparer.Ordinal)
                .Select(v => new SliceSummary
                {
                    Dimension = d.Key,
                    Value = v.Key,
                    Rows = v.Value.Rows,
                    Disagreements = v.Value.Disagreements,
                    DisagreementRate = Ratio(v.Value.Disagreements, v.Value.Rows),
                    MeanDelta = qualitative ? null : v.Value.SumDelta / v.Value.Rows,
                }))
            .ToList();

    IReadOnlyList<string> Warnings(AgreementStatistics statistics)
    {
        var warnings = new List<string>();
        if (RowsSeen == 0) warnings.Add("No rows were loaded: there is nothing to align against.");
        if (missingValues > 0)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{missingValues} of {RowsSeen} rows lack a judge {(qualitative ? "label" : "score")} or a resolved human {(qualitative ? "label" : "score")}; they were left out of the comparison."));
        if (outsideScale > 0)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"{outsideScale} rows have a value outside the metric's scale {ScaleGrid.Format(grid.Min ?? 0)}-{ScaleGrid.Format(grid.Max ?? 0)}; they count in the nearest scale point of the confusion matrix."));
        if (comparableRows > 0 && disagreements < MinimumDisagreementsForConfidence)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"Only {disagreements} disagreement{(disagreements == 1 ? "" : "s")} among {comparableRows} rows: guidelines drawn from so few examples may not generalise."));
        if (statistics.ReviewerAlpha is { } alpha && alpha < PoorReviewerAlpha)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"Reviewers agree poorly with each other: Krippendorff's alpha {alpha:0.00} (below {PoorReviewerAlpha:0.0}), so the human reference is noisy and the judge cannot be expected to match it closely."));
        var unknownLabels = labelJoint.Keys.SelectMany(k => new[] { k.Judge, k.Human })
            .Where(l => canonicalLabels.Count > 0 && !canonicalLabels.ContainsKey(l))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (qualitative && unknownLabels.Count > 0)
            warnings.Add($"Labels not defined by the metric were seen: {string.Join(", ", unknownLabels)}.");
        return warnings;
    }
}
