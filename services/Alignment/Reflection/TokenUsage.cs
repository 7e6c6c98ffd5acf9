using System.Globalization;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>Tokens spent, as reported by the provider's usage (or counted locally when a server reports none).</summary>
public sealed record TokenCount
{
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public int Calls { get; init; }
    public long TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A run's token spend, overall and per phase (reflection.batch, reflection.merge, verification.*).</summary>
public sealed record TokenUsage
{
    public required TokenCount Total { get; init; }
    public required IReadOnlyDictionary<string, TokenCount> PerPhase { get; init; }
    /// <summary>The run's budget (prompt + completion tokens); null when unlimited.</summary>
    public long? Budget { get; init; }
}

/// <summary>
/// Counts one run's tokens across every model call and enforces its budget: a call that could take the run past the
/// budget (its counted prompt plus the completion tokens it may produce) is refused before it is sent. Thread-safe,
/// since judge re-scoring calls run concurrently.
/// </summary>
public sealed class RunTokenMeter
{
    readonly Lock gate = new();
    readonly Dictionary<string, TokenCount> perPhase = new(StringComparer.Ordinal);
    long reserved;

    public RunTokenMeter(long? budget = null)
    {
        if (budget is < 0) throw new ArgumentOutOfRangeException(nameof(budget), budget, "A token budget cannot be negative.");
        Budget = budget is 0 ? null : budget;
    }

    public long? Budget { get; }

    public long Used
    {
        get { lock (gate) return perPhase.Values.Sum(c => c.TotalTokens); }
    }

    /// <summary>Holds room for a call; released by <see cref="Record"/> or <see cref="Release"/>.</summary>
    internal void Reserve(string phase, long tokens)
    {
        lock (gate)
        {
            var used = perPhase.Values.Sum(c => c.TotalTokens);
            if (Budget is { } budget && used + reserved + tokens > budget)
                throw new TokenBudgetExceededException(phase, budget, used, tokens);
            reserved += tokens;
        }
    }

    internal void Release(long reservedTokens)
    {
        lock (gate) reserved = Math.Max(0, reserved - reservedTokens);
    }

    internal void Record(string phase, long promptTokens, long completionTokens, long reservedTokens)
    {
        lock (gate)
        {
            reserved = Math.Max(0, reserved - reservedTokens);
            var current = perPhase.GetValueOrDefault(phase) ?? new TokenCount();
            perPhase[phase] = current with
            {
                PromptTokens = current.PromptTokens + promptTokens,
                CompletionTokens = current.CompletionTokens + completionTokens,
                Calls = current.Calls + 1,
            };
        }
    }

    public TokenUsage Snapshot()
    {
        lock (gate)
        {
            return new TokenUsage
            {
                Total = new TokenCount
                {
                    PromptTokens = perPhase.Values.Sum(c => c.PromptTokens),
                    CompletionTokens = perPhase.Values.Sum(c => c.CompletionTokens),
                    Calls = perPhase.Values.Sum(c => c.Calls),
                },
                PerPhase = perPhase.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
                Budget = Budget,
            };
        }
    }

    internal static string Format(long tokens) => tokens.ToString("#,0", CultureInfo.InvariantCulture);
}
