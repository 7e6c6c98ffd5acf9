using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetricAlignment.TestSupport;
using RabbitMQ.Client;

namespace MetricAlignment.EndToEnd.Tests;

[Collection(DistributedAppCollection.Name)]
public sealed class AlignmentRunTests(DistributedAppFixture fixture)
{
    const string MetricForkedExchange = "MetricAlignment.Contracts:MetricForked";
    static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_fluency_run_on_the_dataset_aligns_and_its_accept_forks_the_built_in_metric_with_exactly_one_event()
    {
        await fixture.EnsureDatasetImportedAsync();
        using var metrics = fixture.CreateClient("metrics");
        using var alignment = fixture.CreateClient("alignment");
        var fluency = (await metrics.GetFromJsonAsync<JsonObject>("api/metrics/fluency"))!;
        var fluencyId = fluency["id"]!.GetValue<Guid>();
        var builtInVersion = fluency["currentVersion"]!.GetValue<int>();
        var evaluations = (await alignment.GetFromJsonAsync<JsonArray>($"api/metrics/{fluencyId}/eligible-evaluations"))!
            .Select(e => e!["evaluationId"]!.GetValue<Guid>()).ToArray();
        await using var events = await EventListener.StartAsync(fixture.MessagingConnectionString, MetricForkedExchange);

        using var started = await alignment.PostAsJsonAsync("api/alignment-runs",
            new { metricId = fluencyId, evaluationIds = evaluations, reflectionProvider = "", deltaThreshold = 1.0 });
        started.StatusCode.Should().Be(HttpStatusCode.Accepted);
        started.Headers.Location.Should().NotBeNull();
        var runId = (await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();

        var run = await WaitForAsync(alignment, runId, r => r["status"]!.GetValue<string>() is "aligned" or "error" or "cancelled");
        run["status"]!.GetValue<string>().Should().Be("aligned", run["error"]?.ToJsonString());
        run["counts"]!["rowsLoaded"]!.GetValue<int>().Should().Be(400);
        run["counts"]!["disagreements"]!.GetValue<int>().Should().Be(145);
        run["counts"]!["agreeingRowsSkipped"]!.GetValue<int>().Should().Be(255);
        run["guidelinesText"]!.GetValue<string>().Should().Contain("4.18");
        run["phases"]!.AsArray().Select(p => p!["phase"]!.GetValue<string>()).Distinct().Should().HaveCount(4);

        using var accepted = await alignment.PostAsJsonAsync($"api/alignment-runs/{runId}/accept", new { overrideNewerVersion = false });
        accepted.StatusCode.Should().Be(HttpStatusCode.Accepted);
        run = await WaitForAsync(alignment, runId, r => r["status"]!.GetValue<string>() is "accepted" or "aligned" && r["outcome"]?["metricId"] is not null);
        var forkId = run["outcome"]!["metricId"]!.GetValue<Guid>();

        var forked = await events.ReceiveAsync(m => m["runId"]?.GetValue<Guid>() == runId, RunTimeout);
        forked["newMetricId"]!.GetValue<Guid>().Should().Be(forkId);
        ((string?)forked["workspace"]).Should().Be(TestTokens.Workspace, "events say whose workspace changed");
        using var acceptedAgain = await alignment.PostAsJsonAsync($"api/alignment-runs/{runId}/accept", new { overrideNewerVersion = false });
        acceptedAgain.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await events.CountAsync(m => m["runId"]?.GetValue<Guid>() == runId, TimeSpan.FromSeconds(3))).Should().Be(0, "one accepted run publishes exactly one MetricForked");

        var fork = (await metrics.GetFromJsonAsync<JsonObject>($"api/metrics/{forkId}"))!;
        fork["kind"]!.GetValue<string>().Should().Be("custom");
        fork["forkedFrom"]!["metricId"]!.GetValue<Guid>().Should().Be(fluencyId);
        fork["current"]!["systemPrompt"]!.GetValue<string>().Should().Contain(fluency["current"]!["systemPrompt"]!.GetValue<string>());
        (await metrics.GetFromJsonAsync<JsonObject>("api/metrics/fluency"))!["currentVersion"]!.GetValue<int>().Should().Be(builtInVersion);

        var history = (await alignment.GetFromJsonAsync<JsonArray>($"api/metrics/{fluencyId}/alignment-runs"))!;
        history.Select(r => r!["id"]!.GetValue<Guid>()).Should().Contain(runId);
    }

    [Fact]
    public async Task Cancelling_a_finished_run_changes_nothing_and_says_so()
    {
        await fixture.EnsureDatasetImportedAsync();
        using var metrics = fixture.CreateClient("metrics");
        using var alignment = fixture.CreateClient("alignment");
        var coherenceId = (await metrics.GetFromJsonAsync<JsonObject>("api/metrics/coherence"))!["id"]!.GetValue<Guid>();
        var evaluations = (await alignment.GetFromJsonAsync<JsonArray>($"api/metrics/{coherenceId}/eligible-evaluations"))!
            .Select(e => e!["evaluationId"]!.GetValue<Guid>()).Take(2).ToArray();
        using var started = await alignment.PostAsJsonAsync("api/alignment-runs", new { metricId = coherenceId, evaluationIds = evaluations, deltaThreshold = 1.0 });
        var runId = (await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
        await WaitForAsync(alignment, runId, r => r["status"]!.GetValue<string>() == "aligned");

        using var cancelled = await alignment.PostAsync($"api/alignment-runs/{runId}/cancel", null);

        cancelled.StatusCode.Should().Be(HttpStatusCode.OK);
        (await cancelled.Content.ReadFromJsonAsync<JsonObject>())!["changed"]!.GetValue<bool>().Should().BeFalse();
        (await alignment.GetFromJsonAsync<JsonObject>($"api/alignment-runs/{runId}"))!["status"]!.GetValue<string>().Should().Be("aligned");
    }

    static async Task<JsonObject> WaitForAsync(HttpClient alignment, Guid runId, Func<JsonObject, bool> done)
    {
        using var timeout = new CancellationTokenSource(RunTimeout);
        while (true)
        {
            var run = (await alignment.GetFromJsonAsync<JsonObject>($"api/alignment-runs/{runId}", timeout.Token))!;
            if (done(run)) return run;
            await Task.Delay(200, timeout.Token);
        }
    }

    /// <summary>Reads an event the way a non-.NET consumer would: its own queue bound to the message type's exchange.</summary>
    sealed class EventListener : IAsyncDisposable
    {
        readonly IConnection _connection;
        readonly IChannel _channel;
        readonly string _queue;

        EventListener(IConnection connection, IChannel channel, string queue) => (_connection, _channel, _queue) = (connection, channel, queue);

        public static async Task<EventListener> StartAsync(string amqp, string exchange)
        {
            var connection = await new ConnectionFactory { Uri = new Uri(amqp) }.CreateConnectionAsync("e2e-event-listener");
            var channel = await connection.CreateChannelAsync();
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
            var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(queue, exchange, "");
            return new EventListener(connection, channel, queue);
        }

        public async Task<JsonObject> ReceiveAsync(Func<JsonObject, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                if (await NextAsync() is { } message && match(message)) return message;
                await Task.Delay(50);
            }
            throw new TimeoutException("The expected event did not arrive.");
        }

        public async Task<int> CountAsync(Func<JsonObject, bool> match, TimeSpan window)
        {
            var count = 0;
            var deadline = DateTime.UtcNow + window;
            while (DateTime.UtcNow < deadline)
            {
                if (await NextAsync() is { } message) { if (match(message)) count++; continue; }
                await Task.Delay(50);
            }
            return count;
        }

        async Task<JsonObject?> NextAsync()
        {
            var delivery = await _channel.BasicGetAsync(_queue, autoAck: true);
            if (delivery is null) return null;
            var envelope = JsonNode.Parse(Encoding.UTF8.GetString(delivery.Body.Span))!.AsObject();
            return envelope["message"]!.AsObject();
        }

        public async ValueTask DisposeAsync()
        {
            await _channel.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }
}
