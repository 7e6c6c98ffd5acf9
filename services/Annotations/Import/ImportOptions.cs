namespace MetricAlignment.Annotations.Import;

/// <summary>Limits of POST /api/evaluations/import (configuration section Annotations:Import).</summary>
public sealed class ImportOptions
{
    public const string Section = "Annotations:Import";

    /// <summary>
    /// Largest accepted body; larger ones get 413. The body is streamed (memory does not grow with it), so the bound is
    /// about one transaction's size: 4 GiB holds about two million rows of ~1.8 KB (a 1 KB conversation, three reviewers).
    /// </summary>
    public long MaxBodyBytes { get; set; } = 4L << 30;

    /// <summary>Longest accepted line: a single row with a long conversation fits comfortably.</summary>
    public long MaxLineBytes { get; set; } = 16L << 20;

    /// <summary>How many errors a rejection lists; the total is always reported.</summary>
    public int MaxReportedErrors { get; set; } = 50;
}
