using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace MetricAlignment.Concurrency.Tests;

/// <summary>
/// Accepts racing each other and racing cancels, on the real services, broker and database. Each race is run
/// <see cref="Iterations"/> times: the runs are prepared together, then every race is fired at once.
/// </summary>
[Collection(ConcurrencyServicesCollection.Name)]
public sealed class Accept_races(ConcurrencyServices services, ITestOutputHelper output)
{
    const int Iterations = 20;
    static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    /// <summary>One custom metric (at version 1) per iteration, with <paramref name="runsPerMetric"/> aligned runs each.</summary>
    async Task<List<(Guid MetricId, List<Guid> Runs)>> AlignedRunsAsync(int runsPerMetric)
    {
        var prepared = new List<(Guid, List<Guid>)>();
        for (var i = 0; i < Iterations; i++)
        {
            var metricId = await services.CreateCustomMetricAsync();
            var runs = new List<Guid>();
            for (var r = 0; r < runsPerMetric; r++) runs.Add(await services.StartRunAsync(metricId));
            prepared.Add((metricId, runs));
        }
        var all = prepared.SelectMany(p => p.Item2).ToList();
        var aligned = await services.WaitAsync(all, s => s is "aligned" or "error", Bound);
        aligned.Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "aligned", "every run finds the disagreements");
        return prepared;
    }

    [Fact]
    public async Task Two_accepts_of_one_aligned_run_at_once_give_exactly_one_version_and_one_MetricVersioned()
    {
        var clock = Stopwatch.StartNew();
        var prepared = await AlignedRunsAsync(runsPerMetric: 1);
        var runs = prepared.Select(p => p.Runs[0]).ToList();

        var answers = await Task.WhenAll(runs.Select(async runId => await Task.WhenAll(services.AcceptAsync(runId), services.AcceptAsync(runId))));
        var final = await services.WaitAsync(runs, s => s == "accepted", Bound);
        await services.Events.SettleAsync("MetricVersioned", runs, Bound);

        var versions = await Task.WhenAll(prepared.Select(p => services.VersionNumbersAsync(p.MetricId)));
        output.WriteLine($"Iterations: {Iterations}; accept answers: {Tally(answers.SelectMany(a => a).Select(s => ((int)s).ToString()))}; " +
            $"final states: {Tally(final.Values.Select(ConcurrencyServices.Status))}; versions created: {versions.Sum(v => v.Count - 1)}; " +
            $"MetricVersioned: {services.Events.Total("MetricVersioned", runs)}; AlignmentRunAccepted: {services.Events.Total("AlignmentRunAccepted", runs)}; " +
            $"elapsed {clock.Elapsed.TotalSeconds:F0} s");

        answers.Should().OnlyContain(pair => pair.Contains(HttpStatusCode.Accepted), "at least one of the two accepts is taken");
        answers.SelectMany(a => a).Should().OnlyContain(s => s == HttpStatusCode.Accepted || s == HttpStatusCode.Conflict,
            "the other is taken (and ignored by the run) or refused as already being accepted");
        final.Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "accepted");
        versions.Should().OnlyContain(v => v.SequenceEqual(new[] { 1, 2 }), "each metric gains exactly one version");
        runs.Should().OnlyContain(id => services.Events.Count("MetricVersioned", id) == 1);
        runs.Should().OnlyContain(id => services.Events.Count("AlignmentRunAccepted", id) == 1);
        final.Values.Should().OnlyContain(r => (int?)r["outcome"]!["version"] == 2, "the run records the version it created");
    }

    [Fact]
    public async Task An_accept_racing_a_cancel_ends_accepted_with_one_version_and_the_cancel_changes_nothing()
    {
        var clock = Stopwatch.StartNew();
        var prepared = await AlignedRunsAsync(runsPerMetric: 1);
        var runs = prepared.Select(p => p.Runs[0]).ToList();

        var answers = await Task.WhenAll(runs.Select(async runId =>
        {
            var accept = services.AcceptAsync(runId);
            var cancel = services.Alignment.PostAsync($"/api/alignment-runs/{runId}/cancel", null);
            await Task.WhenAll(accept, cancel);
            var cancelBody = await cancel.Result.Content.ReadFromJsonAsync<JsonObject>();
            return (Accept: accept.Result, Cancel: cancel.Result.StatusCode, Changed: (bool?)cancelBody?["changed"]);
        }));
        var final = await services.WaitAsync(runs, s => s is "accepted" or "cancelled", Bound);
        await services.Events.SettleAsync("MetricVersioned", runs, Bound);

        var versions = await Task.WhenAll(prepared.Select(p => services.VersionNumbersAsync(p.MetricId)));
        output.WriteLine($"Iterations: {Iterations}; accept answers: {Tally(answers.Select(a => ((int)a.Accept).ToString()))}; " +
            $"cancel answers: {Tally(answers.Select(a => $"{(int)a.Cancel} changed={a.Changed}"))}; " +
            $"final states: {Tally(final.Values.Select(ConcurrencyServices.Status))}; versions created: {versions.Sum(v => v.Count - 1)}; " +
            $"MetricVersioned: {services.Events.Total("MetricVersioned", runs)}; AlignmentRunCancelled: {services.Events.Total("AlignmentRunCancelled", runs)}; " +
            $"elapsed {clock.Elapsed.TotalSeconds:F0} s");

        // Cancel applies to pending and running runs only: against an aligned run it is a no-op, whatever the order.
        answers.Should().OnlyContain(a => a.Accept == HttpStatusCode.Accepted);
        answers.Should().OnlyContain(a => a.Cancel == HttpStatusCode.OK && a.Changed == false);
        final.Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "accepted");
        versions.Should().OnlyContain(v => v.SequenceEqual(new[] { 1, 2 }));
        runs.Should().OnlyContain(id => services.Events.Count("MetricVersioned", id) == 1);
        runs.Should().OnlyContain(id => services.Events.Count("AlignmentRunCancelled", id) == 0);
    }

    [Fact]
    public async Task Two_runs_from_one_version_accepted_in_turn_give_one_new_version_and_refuse_the_stale_run_then_a_fresh_run_gives_the_next()
    {
        var clock = Stopwatch.StartNew();
        var prepared = await AlignedRunsAsync(runsPerMetric: 2);
        var firsts = prepared.Select(p => p.Runs[0]).ToList();
        var seconds = prepared.Select(p => p.Runs[1]).ToList();

        (await Task.WhenAll(firsts.Select(services.AcceptAsync))).Should().OnlyContain(s => s == HttpStatusCode.Accepted);
        (await services.WaitAsync(firsts, s => s == "accepted", Bound)).Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "accepted");

        // The second run aligned version 1, which is no longer current: its accept is refused before anything is sent.
        var refusals = await Task.WhenAll(seconds.Select(async runId =>
        {
            var response = await services.Alignment.PostAsJsonAsync($"/api/alignment-runs/{runId}/accept", new { });
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<JsonObject>());
        }));
        refusals.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.Conflict);
        refusals.Should().OnlyContain(r => (string?)r.Body!["title"] == "The metric has a newer version"
            && (int?)r.Body["runVersion"] == 1 && (int?)r.Body["currentVersion"] == 2);
        (await services.WaitAsync(seconds, _ => true, Bound)).Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "aligned");

        // A run started from version 2 is accepted as version 3.
        var thirds = new List<Guid>();
        foreach (var (metricId, _) in prepared) thirds.Add(await services.StartRunAsync(metricId));
        (await services.WaitAsync(thirds, s => s is "aligned" or "error", Bound)).Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "aligned");
        (await Task.WhenAll(thirds.Select(services.AcceptAsync))).Should().OnlyContain(s => s == HttpStatusCode.Accepted);
        var final = await services.WaitAsync(thirds, s => s == "accepted", Bound);
        await services.Events.SettleAsync("MetricVersioned", firsts.Concat(thirds), Bound);

        var versions = await Task.WhenAll(prepared.Select(p => services.VersionNumbersAsync(p.MetricId)));
        output.WriteLine($"Iterations: {Iterations}; first accepts accepted: {firsts.Count}; stale accepts refused with 409: {refusals.Length}; " +
            $"fresh runs final states: {Tally(final.Values.Select(ConcurrencyServices.Status))}; versions created: {versions.Sum(v => v.Count - 1)}; " +
            $"MetricVersioned: {services.Events.Total("MetricVersioned", firsts.Concat(seconds).Concat(thirds))}; elapsed {clock.Elapsed.TotalSeconds:F0} s");

        final.Values.Select(ConcurrencyServices.Status).Should().OnlyContain(s => s == "accepted");
        versions.Should().OnlyContain(v => v.SequenceEqual(new[] { 1, 2, 3 }), "no lost update and no version number twice");
        firsts.Concat(thirds).Should().OnlyContain(id => services.Events.Count("MetricVersioned", id) == 1);
        seconds.Should().OnlyContain(id => services.Events.Count("MetricVersioned", id) == 0);
    }

    [Fact]
    public async Task Two_runs_from_one_version_accepted_at_once_give_one_version_and_return_the_loser_to_aligned_with_a_version_conflict()
    {
        var clock = Stopwatch.StartNew();
        var prepared = await AlignedRunsAsync(runsPerMetric: 2);
        var all = prepared.SelectMany(p => p.Runs).ToList();

        // Both accepts pass the API's check (the metric is still at 1); the Metrics service decides which one wins.
        var answers = await Task.WhenAll(prepared.Select(async p => await Task.WhenAll(services.AcceptAsync(p.Runs[0]), services.AcceptAsync(p.Runs[1]))));
        var final = await services.WaitAsync(all, s => s is "accepted" or "aligned" or "error", Bound);
        // A run refused by the Metrics service passes through accepting; wait until it is back.
        final = await services.WaitAsync(all, s => s != "accepting", Bound);
        var accepted = final.Where(r => ConcurrencyServices.Status(r.Value) == "accepted").Select(r => r.Key).ToList();
        await services.Events.SettleAsync("MetricVersioned", accepted, Bound);

        var versions = await Task.WhenAll(prepared.Select(p => services.VersionNumbersAsync(p.MetricId)));
        output.WriteLine($"Iterations: {Iterations}; accept answers: {Tally(answers.SelectMany(a => a).Select(s => ((int)s).ToString()))}; " +
            $"final states: {Tally(final.Values.Select(ConcurrencyServices.Status))}; " +
            $"loser reasons: {Tally(final.Values.Where(r => ConcurrencyServices.Status(r) != "accepted").Select(r => (string?)r["acceptRejection"]?["phase"] ?? "refused by the API"))}; " +
            $"versions created: {versions.Sum(v => v.Count - 1)}; MetricVersioned: {services.Events.Total("MetricVersioned", all)}; elapsed {clock.Elapsed.TotalSeconds:F0} s");

        foreach (var (metricId, runs) in prepared)
        {
            runs.Select(id => ConcurrencyServices.Status(final[id])).Order().Should().Equal(["accepted", "aligned"], $"exactly one run of metric {metricId} wins");
            var loser = runs.Single(id => ConcurrencyServices.Status(final[id]) == "aligned");
            // Refused either by the API (the winner was already applied) or by the Metrics service's version check.
            if (final[loser]["acceptRejection"] is { } rejection)
            {
                ((string?)rejection["phase"]).Should().Be("version_conflict");
                ((string?)rejection["detail"]).Should().Contain("is at version 2, not the expected version 1");
            }
            services.Events.Count("MetricVersioned", loser).Should().Be(0);
        }
        versions.Should().OnlyContain(v => v.SequenceEqual(new[] { 1, 2 }), "one version per metric, never two with the same number");
        accepted.Should().HaveCount(Iterations).And.OnlyContain(id => services.Events.Count("MetricVersioned", id) == 1);
    }

    static string Tally(IEnumerable<string> values) =>
        string.Join(", ", values.GroupBy(v => v).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"));
}
