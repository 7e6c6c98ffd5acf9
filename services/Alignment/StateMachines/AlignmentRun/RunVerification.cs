using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Reflection;

namespace MetricAlignment.Alignment.StateMachines.AlignmentRun;

/// <summary>
/// What judge verification found, as stored on the run: the held-out rows' agreement under the current and the refined
/// prompt. The distillation it verified is the run's result itself, so it is not repeated here.
/// </summary>
public sealed record RunVerification
{
    public required string JudgeProvider { get; init; }
    public required string JudgeModel { get; init; }
    public required int Seed { get; init; }
    public required int DistillationRowCount { get; init; }
    public required int HeldOutRowCount { get; init; }
    public required AgreementStatistics Baseline { get; init; }
    public required AgreementStatistics Refined { get; init; }
    public required IReadOnlyList<Guid> RowsFixed { get; init; }
    public required IReadOnlyList<Guid> RowsMadeWorse { get; init; }
    public required bool Improved { get; init; }
    public required string Summary { get; init; }
    public required IReadOnlyList<VerifiedRow> Rows { get; init; }

    public static RunVerification From(VerificationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new RunVerification
        {
            JudgeProvider = report.JudgeProvider, JudgeModel = report.JudgeModel, Seed = report.Seed,
            DistillationRowCount = report.DistillationRowIds.Count, HeldOutRowCount = report.HeldOutRowIds.Count,
            Baseline = report.Baseline, Refined = report.Refined, RowsFixed = report.RowsFixed, RowsMadeWorse = report.RowsMadeWorse,
            Improved = report.Improved, Summary = report.Summary, Rows = report.Rows,
        };
    }
}
