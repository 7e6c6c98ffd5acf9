namespace MetricAlignment.Bench;

/// <summary>The sizes one benchmark run uses: smoke (tests, seconds), small (minutes) or full (the sizes).</summary>
public sealed record Scale(string Name)
{
    public required int ImportRows { get; init; }
    public required IReadOnlyList<int> PhaseRows { get; init; }
    public required int SagaRuns { get; init; }
    public required int SagaRowsPerEvaluation { get; init; }
    public required IReadOnlyList<int> ApiRates { get; init; }
    public required TimeSpan ApiDuration { get; init; }
    public required IReadOnlyList<int> LlmDisagreements { get; init; }
    public required TimeSpan LlmLatency { get; init; }
    public required int Repetitions { get; init; }

    public static Scale Smoke { get; } = new("smoke")
    {
        ImportRows = 300, PhaseRows = [300], SagaRuns = 3, SagaRowsPerEvaluation = 20, ApiRates = [50],
        ApiDuration = TimeSpan.FromSeconds(2), LlmDisagreements = [10], LlmLatency = TimeSpan.FromMilliseconds(20), Repetitions = 1,
    };

    public static Scale Small { get; } = new("small")
    {
        ImportRows = 20_000, PhaseRows = [20_000, 100_000], SagaRuns = 50, SagaRowsPerEvaluation = 50, ApiRates = [100, 500],
        ApiDuration = TimeSpan.FromSeconds(10), LlmDisagreements = [10, 100, 1_000], LlmLatency = TimeSpan.FromMilliseconds(200), Repetitions = 3,
    };

    public static Scale Full { get; } = new("full")
    {
        ImportRows = 1_000_000, PhaseRows = [100_000, 1_000_000], SagaRuns = 1_000, SagaRowsPerEvaluation = 50, ApiRates = [100, 500, 1_000],
        ApiDuration = TimeSpan.FromSeconds(30), LlmDisagreements = [10, 100, 1_000, 10_000], LlmLatency = TimeSpan.FromMilliseconds(500), Repetitions = 3,
    };

    public static Scale Parse(string name) => name.ToLowerInvariant() switch
    {
        "smoke" => Smoke,
        "small" => Small,
        "full" => Full,
        _ => throw new ArgumentException($"Unknown scale '{name}': use smoke, small or full."),
    };
}
