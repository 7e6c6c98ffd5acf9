using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Contracts;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>A row the judge can be re-run on: its texts, the human reference and whether the recorded judge value disagreed.</summary>
public sealed record VerificationRow
{
    public required Guid RowId { get; init; }
    public required string InputText { get; init; }
    public required string Output { get; init; }
    public string? Context { get; init; }
    public double? HumanScore { get; init; }
    public string? HumanLabel { get; init; }
    public double? JudgeScore { get; init; }
    public string? JudgeLabel { get; init; }
    public required bool IsDisagreement { get; init; }

    public static VerificationRow FromTrace(DisagreementTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return new VerificationRow
        {
            RowId = trace.RowId,
            InputText = trace.InputText,
            Output = trace.Output,
            HumanScore = trace.HumanScore,
            HumanLabel = trace.HumanLabel,
            JudgeScore = trace.JudgeScore,
            JudgeLabel = trace.JudgeLabel,
            IsDisagreement = true,
        };
    }
}

/// <summary>
/// Keeps a bounded, reproducible sample of the streamed rows for judge verification — disagreeing and agreeing rows
/// apart, since the analyzer keeps only disagreements and a refined prompt must also be checked not to break rows the
/// judge already got right. A row is kept when its seeded hash is among the smallest of its stratum, so the sample
/// depends on the seed and the rows, never on the order they arrive in. Feed it every <see cref="ResolvedRow"/> the
/// <see cref="DisagreementAnalyzer"/> sees, with the same threshold.
/// </summary>
public sealed class VerificationSampler
{
    const double Tolerance = 1e-9;
    const int MaxTextLength = 4000;

    readonly MetricDefinition metric;
    readonly double deltaThreshold;
    readonly int seed;
    readonly int capacity;
    // Max-heaps by priority (largest on top) so the row to evict is at hand.
    readonly PriorityQueue<VerificationRow, ulong> disagreeing = new(Comparer<ulong>.Create((a, b) => b.CompareTo(a)));
    readonly PriorityQueue<VerificationRow, ulong> agreeing = new(Comparer<ulong>.Create((a, b) => b.CompareTo(a)));

    public VerificationSampler(MetricDefinition metric, double deltaThreshold, VerificationOptions options)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.SamplePerStratum);
        this.metric = metric;
        this.deltaThreshold = deltaThreshold;
        seed = options.Seed;
        capacity = options.SamplePerStratum;
    }

    public void Add(ResolvedRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (capacity == 0 || Classify(row) is not { } isDisagreement) return;
        var heap = isDisagreement ? disagreeing : agreeing;
        var priority = SeededHash.Of(seed, row.RowId);
        if (heap.Count == capacity)
        {
            if (!heap.TryPeek(out _, out var largest) || priority >= largest) return;
            heap.Dequeue();
        }
        heap.Enqueue(new VerificationRow
        {
            RowId = row.RowId,
            InputText = Truncate(DisagreementAnalyzer.InputText(row.Input)),
            Output = Truncate(row.Output),
            Context = row.Context is null ? null : Truncate(row.Context),
            HumanScore = row.ResolvedScore,
            HumanLabel = row.ResolvedLabel,
            JudgeScore = row.JudgeScore,
            JudgeLabel = row.JudgeLabel,
            IsDisagreement = isDisagreement,
        }, priority);
    }

    /// <summary>The sampled rows, disagreeing first, each stratum in seeded order.</summary>
    public IReadOnlyList<VerificationRow> Rows() =>
        [.. Ordered(disagreeing), .. Ordered(agreeing)];

    IEnumerable<VerificationRow> Ordered(PriorityQueue<VerificationRow, ulong> heap) =>
        heap.UnorderedItems.OrderBy(i => i.Priority).Select(i => i.Element);

    /// <summary>Null when the row lacks a judge or human value (as the analyzer counts it).</summary>
    bool? Classify(ResolvedRow row)
    {
        if (metric.Type == MetricType.Qualitative)
        {
            if (string.IsNullOrWhiteSpace(row.JudgeLabel) || string.IsNullOrWhiteSpace(row.ResolvedLabel)) return null;
            return !string.Equals(row.JudgeLabel.Trim(), row.ResolvedLabel.Trim(), StringComparison.OrdinalIgnoreCase);
        }
        if (row.JudgeScore is not { } judge || row.ResolvedScore is not { } human || !double.IsFinite(judge) || !double.IsFinite(human)) return null;
        var distance = Math.Abs(judge - human);
        return distance > Tolerance && distance >= deltaThreshold - Tolerance;
    }

    static string Truncate(string text) =>
        text.Length <= MaxTextLength ? text : string.Concat(text.AsSpan(0, MaxTextLength), " […]");
}

/// <summary>A stable 64-bit hash of (seed, row id): the same on every machine and run (unlike string.GetHashCode).</summary>
internal static class SeededHash
{
    public static ulong Of(int seed, Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes);
        var high = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[..8]);
        var low = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        return Mix(Mix((ulong)(uint)seed ^ high) ^ low);
    }

    /// <summary>SplitMix64's finaliser.</summary>
    static ulong Mix(ulong value)
    {
        value += 0x9E3779B97F4A7C15UL;
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9UL;
        value = (value ^ (value >> 27)) * 0x94D049BB133111EBUL;
        return value ^ (value >> 31);
    }
}
