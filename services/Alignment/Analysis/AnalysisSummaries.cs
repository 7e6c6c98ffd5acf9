namespace MetricAlignment.Alignment.Analysis;

/// <summary>How the humans scored the rows the judge put at one level.</summary>
public sealed record JudgeLevelSummary
{
    /// <summary>The level as shown: the scale point ("5") or the judge's label.</summary>
    public required string Level { get; init; }
    /// <summary>The scale point, for quantitative metrics.</summary>
    public double? JudgeScore { get; init; }
    public required int Rows { get; init; }
    /// <summary>Mean resolved human score of those rows, for quantitative metrics.</summary>
    public double? MeanHumanScore { get; init; }
    public required int Disagreements { get; init; }
    /// <summary>Disagreements where the judge scored higher / lower than the humans (quantitative only).</summary>
    public int JudgeHigher { get; init; }
    public int JudgeLower { get; init; }
    /// <summary>Resolved human labels of those rows (qualitative only), most frequent first.</summary>
    public IReadOnlyList<LabelCount> HumanLabels { get; init; } = [];
}

public sealed record LabelCount
{
    public required string Label { get; init; }
    public required int Rows { get; init; }
}

/// <summary>A subset of rows sharing a tag value or a length bucket, with its disagreement rate.</summary>
public sealed record SliceSummary
{
    /// <summary>"tag:&lt;key&gt;", "input_length" or "output_length".</summary>
    public required string Dimension { get; init; }
    public required string Value { get; init; }
    public required int Rows { get; init; }
    public required int Disagreements { get; init; }
    public required double DisagreementRate { get; init; }
    /// <summary>Mean judge - human over the slice (quantitative only).</summary>
    public double? MeanDelta { get; init; }
}

/// <summary>A word or word pair recurring in free text attached to the rows.</summary>
public sealed record CommentTheme
{
    /// <summary>"reviewer_comment" or "judge_explanation".</summary>
    public required string Source { get; init; }
    public required string Phrase { get; init; }
    /// <summary>Rows whose text mentions the phrase (a lower bound when the vocabulary outgrew the counter).</summary>
    public required int Rows { get; init; }
    public required int DisagreementRows { get; init; }
    /// <summary>A few disagreement rows that mention it.</summary>
    public IReadOnlyList<Guid> SampleRowIds { get; init; } = [];
}
