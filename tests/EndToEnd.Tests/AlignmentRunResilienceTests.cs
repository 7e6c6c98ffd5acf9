using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;

namespace MetricAlignment.EndToEnd.Tests;

/// <summary>
/// Runs on an LLM provider that is slow, wrong or loses its worker, on the whole app with two Alignment replicas:
/// whichever replica takes an HTTP request, the work may be on the other one.
/// </summary>
[Collection(ScriptedProviderAppCollection.Name)]
[TestCaseOrderer(DisruptiveTestsLastOrderer.TypeName, DisruptiveTestsLastOrderer.AssemblyName)]
public sealed class AlignmentRunResilienceTests(ScriptedProviderAppFixture fixture)
{
    static readonly TimeSpan SlowAnswer = TimeSpan.FromSeconds(60);
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    // Well below the model's answer time; generous because the whole app shares a small machine with the tests.
    static readonly TimeSpan Promptly = TimeSpan.FromSeconds(10);
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Cancelling_on_one_replica_a_run_waiting_on_the_model_on_the_other_cancels_it_at_once_and_aborts_the_call()
    {
        using var alignment = fixture.CreateClient("alignment");
        fixture.Answer = ScriptedReflection.Slow(SlowAnswer);
        var (runId, call) = await StartRunWaitingOnTheModelAsync(alignment);
        // The cancel goes to the replica that is not doing the work, so it has to travel through the bus.
        using var otherReplica = await ClientOfReplicaNotCallingAsync(call);

        var clock = Stopwatch.StartNew();
        using var cancelled = await otherReplica.PostAsync($"api/alignment-runs/{runId}/cancel", null);
        cancelled.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var run = await WaitForRunAsync(alignment, runId, r => Status(r) != "running", Promptly);
        Status(run).Should().Be("cancelled", run.ToJsonString());
        await call.Aborted.WaitAsync(Promptly);
        clock.Elapsed.Should().BeLessThan(Promptly, "the worker stops the call instead of waiting out the {0} answer", SlowAnswer);

        // Whatever was still on its way (a heartbeat, a progress report) must not bring the run back.
        fixture.Answer = ScriptedReflection.Fast;
        await Task.Delay(TimeSpan.FromSeconds(5));
        run = await GetRunAsync(alignment, runId);
        Status(run).Should().Be("cancelled");
        run["attempts"]!.AsArray().Should().ContainSingle().Which!["result"]!.GetValue<string>().Should().Be("cancelled");
        fixture.LanguageModel.Requests.Where(r => r.Index > call.Index).Should().BeEmpty("a cancelled run makes no further model calls");
        call.WasAnswered.Should().BeFalse();
    }

    [Fact]
    public async Task A_reflection_model_answering_nonsense_fails_the_run_while_distilling_and_a_retry_aligns_it_as_attempt_two()
    {
        using var alignment = fixture.CreateClient("alignment");
        fixture.Answer = ScriptedReflection.Malformed;
        var runId = await StartRunAsync(alignment);

        var run = await WaitForRunAsync(alignment, runId, IsSettled, RunTimeout);
        Status(run).Should().Be("error", run.ToJsonString());
        run["error"]!["phase"]!.GetValue<string>().Should().Be("distilling_guidelines");
        run["error"]!["detail"]!.GetValue<string>().Should()
            .StartWith($"Model '{ScriptedProviderAppFixture.Model}' of provider '{ScriptedProviderAppFixture.Provider}' did not return a valid answer");

        fixture.Answer = ScriptedReflection.Fast;
        using var retried = await alignment.PostAsync($"api/alignment-runs/{runId}/retry", null);
        retried.StatusCode.Should().Be(HttpStatusCode.Accepted);
        run = await WaitForRunAsync(alignment, runId, r => r["attempt"]!.GetValue<int>() == 2 && IsSettled(r), RunTimeout);

        Status(run).Should().Be("aligned", run.ToJsonString());
        run["error"].Should().BeNull();
        run["guidelines"]!.AsArray().Should().ContainSingle();
        var attempts = run["attempts"]!.AsArray();
        attempts.Select(a => a!["attempt"]!.GetValue<int>()).Should().Equal(1, 2);
        attempts[0]!["result"]!.GetValue<string>().Should().Be("error");
        attempts[0]!["errorPhase"]!.GetValue<string>().Should().Be("distilling_guidelines");
        attempts[1]!["result"]!.GetValue<string>().Should().Be("aligned");
    }

    [Fact]
    [DisruptsTheApp]
    public async Task A_worker_killed_while_distilling_does_not_leave_the_run_running_the_other_replica_finishes_it()
    {
        using var alignment = fixture.CreateClient("alignment");
        fixture.AlignmentReplicaProcessIds().Should().HaveCount(ScriptedProviderAppFixture.AlignmentReplicas);
        fixture.Answer = ScriptedReflection.Slow(SlowAnswer);
        var (runId, call) = await StartRunWaitingOnTheModelAsync(alignment);
        var worker = LocalProcesses.OwnerOfConnection(call.RemotePort, fixture.LanguageModel.Endpoint.Port);
        worker.Should().NotBeNull("the process calling the model holds the connection");
        var replicas = fixture.AlignmentReplicaProcessIds();
        LocalProcesses.SelfAndAncestors(worker!.Value).Should().Contain(pid => replicas.Contains(pid), "the caller is one of the Alignment replicas {0}", string.Join(", ", replicas));

        fixture.Answer = ScriptedReflection.Fast;
        using (var process = Process.GetProcessById(worker.Value)) process.Kill();
        var clock = Stopwatch.StartNew();
        await call.Aborted.WaitAsync(Promptly);

        // RabbitMQ hands the un-acknowledged ExecuteAlignmentRun to the surviving replica, which runs the attempt again.
        var bound = TimeSpan.FromMinutes(2);
        var run = await WaitForRunAsync(alignment, runId, IsSettled, bound);
        clock.Elapsed.Should().BeLessThan(bound);
        Status(run).Should().Be("aligned", run.ToJsonString());
        run["attempt"]!.GetValue<int>().Should().Be(1, "a redelivered attempt is the same attempt");
        run["guidelines"]!.AsArray().Should().ContainSingle();
        var resumed = fixture.LanguageModel.Requests.Where(r => r.Index > call.Index).ToList();
        resumed.Should().NotBeEmpty();
        resumed.Select(r => LocalProcesses.OwnerOfConnection(r.RemotePort, fixture.LanguageModel.Endpoint.Port))
            .Should().NotContain(worker.Value, "the killed process cannot have made them");
    }

    async Task<Guid> StartRunAsync(HttpClient alignment)
    {
        var (metricId, evaluationId) = await fixture.EnsureEvaluationAsync();
        using var started = await alignment.PostAsJsonAsync("api/alignment-runs", new
        {
            metricId, evaluationIds = new[] { evaluationId }, reflectionProvider = ScriptedProviderAppFixture.Provider, deltaThreshold = 2.0,
        });
        var body = (await started.Content.ReadFromJsonAsync<JsonObject>())!;
        started.StatusCode.Should().Be(HttpStatusCode.Accepted, body.ToJsonString());
        return body["id"]!.GetValue<Guid>();
    }

    /// <summary>Starts a run and returns once its first reflection call is waiting on the model, the run running in distilling_guidelines.</summary>
    async Task<(Guid RunId, ChatRequest Call)> StartRunWaitingOnTheModelAsync(HttpClient alignment)
    {
        fixture.LanguageModel.SkipReceived();
        var runId = await StartRunAsync(alignment);
        var call = await fixture.LanguageModel.NextRequestAsync(r => r.SchemaName == "candidate_guidelines", Wait);
        var run = await WaitForRunAsync(alignment, runId, r => Status(r) == "running" && r["phase"]?.GetValue<string>() == "distilling_guidelines"
            || IsSettled(r), Wait);
        Status(run).Should().Be("running", run.ToJsonString());
        call.WasAborted.Should().BeFalse();
        return (runId, call);
    }

    /// <summary>An HTTP client bound to the Alignment replica other than the one that made <paramref name="call"/>.</summary>
    async Task<HttpClient> ClientOfReplicaNotCallingAsync(ChatRequest call)
    {
        var caller = LocalProcesses.OwnerOfConnection(call.RemotePort, fixture.LanguageModel.Endpoint.Port);
        caller.Should().NotBeNull("the process calling the model holds the connection");
        var callerChain = LocalProcesses.SelfAndAncestors(caller!.Value).ToList();
        var others = fixture.AlignmentReplicaProcessIds().Where(pid => !callerChain.Contains(pid)).ToList();
        others.Should().ContainSingle("one of the {0} replicas is making the call", ScriptedProviderAppFixture.AlignmentReplicas);
        foreach (var port in LocalProcesses.ListeningPorts(others[0]))
        {
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) }.As(Roles.Admin);
            try
            {
                if ((await client.GetAsync("alive")).IsSuccessStatusCode) return client;
            }
            catch (HttpRequestException)
            {
                // Not an HTTP port of the service.
            }
            client.Dispose();
        }
        throw new InvalidOperationException($"The other Alignment replica (process {others[0]}) serves no HTTP endpoint.");
    }

    static string Status(JsonObject run) => run["status"]!.GetValue<string>();

    static bool IsSettled(JsonObject run) => Status(run) is "aligned" or "error" or "cancelled";

    static async Task<JsonObject> GetRunAsync(HttpClient alignment, Guid runId) =>
        (await alignment.GetFromJsonAsync<JsonObject>($"api/alignment-runs/{runId}"))!;

    static async Task<JsonObject> WaitForRunAsync(HttpClient alignment, Guid runId, Func<JsonObject, bool> done, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var run = await GetRunAsync(alignment, runId).WaitAsync(timeout);
            if (done(run) || deadline.Elapsed > timeout) return run;
            await Task.Delay(200);
        }
    }
}
