namespace MetricAlignment.Annotations.Import;

/// <summary>Limits of POST /api/evaluations/import (configuration section Annotations:Import).</summary>
public sealed class ImportOptions
{
    public const string Section = "Annotations:Import";

    /// <summary>Largest accepted body; larger ones get 413. 1 GiB holds several hundred thousand typical rows.</summary>
    public long MaxBodyBytes { get; set; } = 1L << 30;

    /// <summary>Longest accepted line: a single row with a long conversation fits comfortably.</summary>
    public long MaxLineBytes { get; set; } = 16L << 20;

    /// <summary>How many errors a rejection lists; the total is always reported.</summary>
    public int MaxReportedErrors { get; set; } = 50;
}
