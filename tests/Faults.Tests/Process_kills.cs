using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using MetricAlignment.TestSupport;
using Npgsql;
using Xunit.Abstractions;

namespace MetricAlignment.Faults.Tests;

/// <summary>
/// Alignment processes killed with SIGKILL at exact points of their work: inside each phase of a run, and between the
/// commit of an outbox message and its publish. The point is reached by the startup hook of tests/FaultHooks, which
/// freezes the process there (seen from its own spans, no hook in the service's code); the test then kills it as the
/// kernel would, and watches another instance take over.
/// </summary>
[Collection(ServiceProcessesCollection.Name)]
public sealed class Process_kills(ServiceProcesses services, ITestOutputHelper output)
{
    static readonly TimeSpan HoldWithin = TimeSpan.FromSeconds(120);
    static readonly TimeSpan TakeOverWithin = TimeSpan.FromMinutes(3);
    static readonly TimeSpan KillWithin = TimeSpan.FromSeconds(30);
    static readonly string[] Phases = ["loading_annotations", "building_disagreement_traces", "distilling_guidelines", "finalizing"];
    static readonly string[] Settled = ["aligned", "error", "cancelled", "accepted", "discarded"];

    public enum Takeover
    {
        /// <summary>No other instance runs when the worker dies; a fresh one is started afterwards.</summary>
        FreshInstance,
        /// <summary>A second instance already runs when the worker dies.</summary>
        RunningInstance,
    }

    [Theory]
    [InlineData("loading_annotations", Takeover.FreshInstance)]
    [InlineData("building_disagreement_traces", Takeover.RunningInstance)]
    [InlineData("distilling_guidelines", Takeover.FreshInstance)]
    [InlineData("finalizing", Takeover.RunningInstance)]
    public async Task A_worker_killed_inside_a_phase_leaves_the_run_to_another_instance_which_finishes_it(string phase, Takeover takeover)
    {
        var signal = SignalFile($"phase-{phase}");
        ServiceProcess? worker = null, survivor = null;
        try
        {
            // Finalizing sends no report of its own: its only message is the result, so the worker is held just before
            // that goes out, and the saga still shows the phase before it.
            var finalizing = phase == "finalizing";
            worker = await services.Stack.StartAlignmentAsync(Hook("FAULTHOOK_HOLD_PHASE", finalizing ? $"{phase}:before" : phase, signal));
            using var workerApi = ServiceProcesses.Client(worker.Address);
            var runId = await StartRunAsync(workerApi, services.FluencyMetricId, services.FluencyEvaluationId);

            // The hook holds the worker right after the phase's progress report went out; the saga has recorded the phase.
            var held = await WaitForSignalAsync(signal, worker);
            var phaseAtKill = finalizing ? "distilling_guidelines" : phase;
            var atKill = await WaitForRunAsync(workerApi, runId, r => Status(r) != "running" || Phase(r) == phaseAtKill, HoldWithin);
            Status(atKill).Should().Be("running", atKill.ToJsonString());
            Phase(atKill).Should().Be(phaseAtKill);
            held.Should().StartWith($"{worker.ProcessId} phase {phase}", "the hook held the worker of this run, in this phase");

            if (takeover == Takeover.RunningInstance) survivor = await services.Stack.StartAlignmentAsync();
            var clock = Stopwatch.StartNew();
            await worker.KillAsync(KillWithin);
            if (takeover == Takeover.FreshInstance) survivor = await services.Stack.StartAlignmentAsync();

            using var survivorApi = ServiceProcesses.Client(survivor!.Address);
            var run = await WaitForRunAsync(survivorApi, runId, r => Settled.Contains(Status(r)), TakeOverWithin);
            var elapsed = clock.Elapsed;
            output.WriteLine($"SIGKILL of Alignment pid {worker.ProcessId} held in {phase} ({takeover}); run {runId} {Status(run)} " +
                $"{elapsed.TotalSeconds:F0} s after the kill; attempts {run["attempts"]!.AsArray().Count}, phases " +
                string.Join(" > ", run["phases"]!.AsArray().Select(p => $"{p!["phase"]}#{p["attempt"]}")));

            Status(run).Should().Be("aligned", "the un-acknowledged ExecuteAlignmentRun went to the other instance, which ran it again: {0}", run.ToJsonString());
            run["attempt"]!.GetValue<int>().Should().Be(1, "a redelivered attempt is the same attempt, not a retry");
            var attempt = run["attempts"]!.AsArray().Should().ContainSingle().Subject!;
            attempt["result"]!.GetValue<string>().Should().Be("aligned");
            attempt["startedAt"].Should().NotBeNull();
            run["phases"]!.AsArray().Select(p => p!["phase"]!.GetValue<string>()).Should().Equal(Phases,
                "each phase is recorded once, although the phases up to {0} ran twice", phase);
            run["phases"]!.AsArray().Should().OnlyContain(p => p!["attempt"]!.GetValue<int>() == 1 && p["endedAt"] != null);
            run["counts"]!["rowsLoaded"]!.GetValue<int>().Should().Be(40, "the second instance loaded the rows again from the start");
            run["counts"]!["disagreements"]!.GetValue<int>().Should().BePositive();
            run["guidelines"]!.AsArray().Should().NotBeEmpty();
            worker.HasExited.Should().BeTrue();
        }
        finally
        {
            if (worker is not null) await worker.DisposeAsync();
            if (survivor is not null) await survivor.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_process_killed_between_the_outbox_commit_and_the_publish_has_the_event_published_once_by_the_next_instance()
    {
        var (metricId, evaluationId) = await services.CustomMetricWithEvaluationAsync();
        var signal = SignalFile("outbox-before");
        ServiceProcess? holder = null, next = null;
        try
        {
            holder = await services.Stack.StartAlignmentAsync(Hook("FAULTHOOK_HOLD_OUTBOX", "MetricVersioned:before", signal));
            using var holderApi = ServiceProcesses.Client(holder.Address);
            var runId = await AlignAndAcceptAsync(holderApi, metricId, evaluationId);

            var held = await WaitForSignalAsync(signal, holder);
            held.Should().StartWith($"{holder.ProcessId} outbox MetricVersioned before publish");
            var row = await OutboxRowAsync(runId);
            row.Should().NotBeNull("the saga committed MetricVersioned into the outbox with the accepted run");
            row!.Value.DispatchedAt.Should().BeNull();
            held.Should().EndWith($"message id {row.Value.Id}");
            Status(await RunAsync(holderApi, runId)).Should().Be("accepted", "the run's row and its outbox messages are one commit");
            // Time for a publish to arrive, had there been one.
            await Task.Delay(TimeSpan.FromSeconds(3));
            services.Events.Deliveries(runId).Should().BeEmpty("the process is held before anything left it");

            await holder.KillAsync(KillWithin);
            var clock = Stopwatch.StartNew();
            next = await services.Stack.StartAlignmentAsync();
            var deliveries = await WaitForDeliveriesAsync(runId, 1);
            output.WriteLine($"SIGKILL of Alignment pid {holder.ProcessId} between the commit and the publish of MetricVersioned {row.Value.Id}; " +
                $"published by the next instance {clock.Elapsed.TotalSeconds:F0} s after the kill; deliveries: {deliveries.Count}");

            deliveries.Should().Equal([row.Value.Id], "the next instance publishes the committed message once, with the enqueued MessageId");
            (await WaitForDispatchedAsync(runId)).Should().BeTrue("the next instance marks it dispatched");
            await ShouldHaveOneNewVersionAsync(metricId);
        }
        finally
        {
            if (holder is not null) await holder.DisposeAsync();
            if (next is not null) await next.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_process_killed_after_the_publish_before_marking_it_dispatched_has_it_published_again_with_the_same_message_id()
    {
        var (metricId, evaluationId) = await services.CustomMetricWithEvaluationAsync();
        var signal = SignalFile("outbox-after");
        ServiceProcess? holder = null, next = null;
        try
        {
            holder = await services.Stack.StartAlignmentAsync(Hook("FAULTHOOK_HOLD_OUTBOX", "MetricVersioned:after", signal));
            using var holderApi = ServiceProcesses.Client(holder.Address);
            var runId = await AlignAndAcceptAsync(holderApi, metricId, evaluationId);

            var held = await WaitForSignalAsync(signal, holder);
            held.Should().StartWith($"{holder.ProcessId} outbox MetricVersioned after publish");
            var row = await OutboxRowAsync(runId);
            row.Should().NotBeNull();
            row!.Value.DispatchedAt.Should().BeNull("the process is held before the dispatcher's transaction marks it");
            var before = await WaitForDeliveriesAsync(runId, 1);
            before.Should().Equal([row.Value.Id], "the broker confirmed the publish before the hold");

            await holder.KillAsync(KillWithin);
            var clock = Stopwatch.StartNew();
            next = await services.Stack.StartAlignmentAsync();
            var deliveries = await WaitForDeliveriesAsync(runId, 2);
            output.WriteLine($"SIGKILL of Alignment pid {holder.ProcessId} after the publish of MetricVersioned {row.Value.Id}, before marking it; " +
                $"published again by the next instance {clock.Elapsed.TotalSeconds:F0} s after the kill; deliveries: {deliveries.Count}, " +
                $"distinct message ids: {deliveries.Distinct().Count()}");

            deliveries.Should().Equal([row.Value.Id, row.Value.Id],
                "at least once: published again after the crash, with the same MessageId so that a consumer's inbox drops it");
            (await WaitForDispatchedAsync(runId)).Should().BeTrue();
            await ShouldHaveOneNewVersionAsync(metricId);
        }
        finally
        {
            if (holder is not null) await holder.DisposeAsync();
            if (next is not null) await next.DisposeAsync();
        }
    }

    string SignalFile(string what) => Path.Combine(services.LogFolder, $"hold-{what}-{Guid.NewGuid():N}.signal");

    static Dictionary<string, string> Hook(string variable, string value, string signal) => new()
    {
        ["DOTNET_STARTUP_HOOKS"] = ServiceProcesses.HookAssembly,
        [variable] = value,
        ["FAULTHOOK_SIGNAL"] = signal,
    };

    static async Task<string> WaitForSignalAsync(string path, ServiceProcess holder)
    {
        var deadline = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            holder.HasExited.Should().BeFalse("the process to be held is still running; see {0}", holder.LogPath);
            deadline.Elapsed.Should().BeLessThan(HoldWithin, "the hook holds the process at its point; see {0}", holder.LogPath);
            await Task.Delay(100);
        }
        return (await File.ReadAllTextAsync(path)).Trim();
    }

    async Task<Guid> AlignAndAcceptAsync(HttpClient alignment, Guid metricId, Guid evaluationId)
    {
        var runId = await StartRunAsync(alignment, metricId, evaluationId);
        var run = await WaitForRunAsync(alignment, runId, r => Settled.Contains(Status(r)), TakeOverWithin);
        Status(run).Should().Be("aligned", run.ToJsonString());
        using var accepted = await alignment.PostAsJsonAsync($"api/alignment-runs/{runId}/accept", new { });
        accepted.StatusCode.Should().Be(HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        return runId;
    }

    static async Task<Guid> StartRunAsync(HttpClient alignment, Guid metricId, Guid evaluationId)
    {
        using var response = await alignment.PostAsJsonAsync("api/alignment-runs", new
        {
            metricId, evaluationIds = new[] { evaluationId }, reflectionProvider = "builtin", deltaThreshold = 1.0,
        });
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        return body["id"]!.GetValue<Guid>();
    }

    static async Task<JsonObject> RunAsync(HttpClient alignment, Guid runId) =>
        (await alignment.GetFromJsonAsync<JsonObject>($"api/alignment-runs/{runId}"))!;

    /// <summary>Polls until <paramref name="done"/> holds or the time is up; returns the last state read.</summary>
    static async Task<JsonObject> WaitForRunAsync(HttpClient alignment, Guid runId, Func<JsonObject, bool> done, TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        JsonObject? last = null;
        while (true)
        {
            try
            {
                last = await RunAsync(alignment, runId);
                if (done(last)) return last;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // The instance is busy starting or under load: ask again.
            }
            if (deadline.Elapsed > within)
                return last ?? throw new TimeoutException($"Run {runId} could not be read within {within}.");
            await Task.Delay(250);
        }
    }

    static string Status(JsonObject run) => run["status"]!.GetValue<string>();
    static string? Phase(JsonObject run) => run["phase"]?.GetValue<string>();

    /// <summary>The run's MetricVersioned in the Alignment database's outbox: its id is the MessageId it is published with.</summary>
    async Task<(Guid Id, DateTime? DispatchedAt)?> OutboxRowAsync(Guid runId)
    {
        await using var connection = new NpgsqlConnection(services.Stack.AlignmentDatabase);
        var rows = (await connection.QueryAsync<(Guid Id, DateTime? DispatchedAt)>("""
            SELECT id, dispatched_at
            FROM outbox_messages
            WHERE message_type LIKE 'MetricAlignment.Contracts.MetricVersioned,%' AND body->>'runId' = @RunId
            """, new { RunId = runId.ToString() })).ToList();
        rows.Should().HaveCountLessThanOrEqualTo(1, "the saga enqueues one MetricVersioned per accepted run");
        return rows.Count == 0 ? null : rows[0];
    }

    async Task<bool> WaitForDispatchedAsync(Guid runId)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TakeOverWithin)
        {
            if (await OutboxRowAsync(runId) is { DispatchedAt: not null }) return true;
            await Task.Delay(250);
        }
        return false;
    }

    /// <summary>Waits for <paramref name="count"/> deliveries of the run's event, then a little longer for any more to show up.</summary>
    async Task<IReadOnlyList<Guid?>> WaitForDeliveriesAsync(Guid runId, int count)
    {
        var deadline = Stopwatch.StartNew();
        while (services.Events.Deliveries(runId).Count < count && deadline.Elapsed < TakeOverWithin) await Task.Delay(250);
        await Task.Delay(TimeSpan.FromSeconds(5));
        return services.Events.Deliveries(runId);
    }

    async Task ShouldHaveOneNewVersionAsync(Guid metricId)
    {
        var metric = await services.Metrics.GetFromJsonAsync<JsonObject>($"api/metrics/{metricId}");
        metric!["currentVersion"]!.GetValue<int>().Should().Be(2, "the accepted run added exactly one version");
    }
}
