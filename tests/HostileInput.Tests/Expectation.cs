using Xunit.Abstractions;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>A hand-written attack and the answers it may get; <c>errorKey</c> names the field a 400 must blame.</summary>
public sealed record Expectation(Attack Attack, int[] Statuses, string? ErrorKey = null);

public static class Expectations
{
    public static Expectation Expect(this Attack attack, params int[] statuses) => new(attack, statuses);

    public static Expectation Blaming(this Expectation expectation, string errorKey) => expectation with { ErrorKey = errorKey };

    /// <summary>Sends every attack; returns what went wrong (empty when each got a problem detail with an expected status).</summary>
    public static async Task<List<string>> CheckAsync(this Attacker attacker, IReadOnlyList<Expectation> expectations, ITestOutputHelper output, string service)
    {
        var answers = await attacker.SendAllAsync(expectations.Select(e => e.Attack).ToList(), parallelism: 2);
        var failures = new List<string>();
        for (var i = 0; i < answers.Count; i++)
        {
            var (answer, expected) = (answers[i], expectations[i]);
            if (answer.Violation() is { } violation) failures.Add(violation);
            else if (!expected.Statuses.Contains(answer.Status))
                failures.Add($"{answer.Attack} answered {answer.Status}, expected {string.Join(" or ", expected.Statuses)}: {answer.Body[..Math.Min(300, answer.Body.Length)]}");
            else if (expected.ErrorKey is { } key && answer.Status == 400 && answer.Json?["errors"]?[key] is null)
                failures.Add($"{answer.Attack} answered 400 without blaming '{key}': {answer.Body[..Math.Min(300, answer.Body.Length)]}");
        }
        output.WriteLine(attacker.Summary(service));
        foreach (var failure in failures) output.WriteLine(failure);
        return failures;
    }
}
