using System.Net;
using System.Net.Http.Json;
using MassTransit;
using MassTransit.Testing;
using MetricAlignment.AuditLog.Audit;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Contracts.Tests.AuditLog;

/// <summary>
/// The AuditLog sample on MassTransit's in-memory test harness: its consumer and its GET /api/audit, which needs a
/// token (the Development settings trust TestTokens) and shows the caller's workspace only.
/// </summary>
public sealed class AuditLogConsumerTests : IAsyncLifetime
{
    readonly WebApplicationFactory<Program> factory = new WebApplicationFactory<Program>()
        .WithWebHostBuilder(web =>
        {
            // AddMessageBus insists on a connection string; the test harness then replaces RabbitMQ with the in-memory transport.
            web.UseSetting("ConnectionStrings:messaging", "amqp://guest:guest@127.0.0.1:5672/unused");
            web.ConfigureTestServices(services => services.AddMassTransitTestHarness());
        });

    ITestHarness harness = null!;

    public async Task InitializeAsync()
    {
        _ = factory.Server;
        harness = factory.Services.GetTestHarness();
        await harness.Start();
    }

    public async Task DisposeAsync() => await factory.DisposeAsync();

    static MetricForked Forked(Guid runId, string workspace = TestTokens.Workspace) => new()
    {
        RunId = runId,
        Workspace = workspace,
        SourceMetricId = Guid.NewGuid(),
        SourceMetricKey = "coherence",
        SourceVersion = 1,
        NewMetricId = Guid.NewGuid(),
        NewMetricKey = "coherence-aligned",
        NewMetricName = "Coherence (aligned)",
        NewVersion = 1,
        ForkedAt = DateTimeOffset.UtcNow,
    };

    async Task<IReadOnlyList<AuditEntry>> Audit(string query = "", string workspace = TestTokens.Workspace)
    {
        var entries = await factory.CreateClient().As(Roles.Viewer, workspace).GetFromJsonAsync<List<AuditEntry>>("/api/audit" + query);
        return entries!;
    }

    async Task PublishAndWait<T>(T message, Guid messageId, int consumedBefore) where T : class
    {
        await harness.Bus.Publish(message, context => context.MessageId = messageId);
        var consumer = harness.GetConsumerHarness<AuditLogConsumer>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (consumer.Consumed.Select<T>().Count() <= consumedBefore && !timeout.IsCancellationRequested)
            await Task.Delay(20);
        consumer.Consumed.Select<T>().Count().Should().BeGreaterThan(consumedBefore, "the audit consumer must see the published message");
    }

    [Fact]
    public async Task A_redelivered_event_is_recorded_once()
    {
        var runId = Guid.NewGuid();
        var messageId = NewId.NextGuid();
        var forked = Forked(runId);

        await PublishAndWait(forked, messageId, consumedBefore: 0);
        // The harness lists a message id once, so wait for the bus to go idle instead of counting the redelivery.
        await harness.Bus.Publish(forked, context => context.MessageId = messageId);
        await harness.InactivityTask;

        var entries = await Audit($"?runId={runId}");
        entries.Should().ContainSingle();
        entries[0].EventType.Should().Be(nameof(MetricForked));
        entries[0].MessageId.Should().Be(messageId);
        entries[0].Workspace.Should().Be(TestTokens.Workspace);
        entries[0].NewMetricId.Should().Be(forked.NewMetricId);
        entries[0].Summary.Should().Contain("coherence-aligned v1");
    }

    [Fact]
    public async Task A_republished_event_of_the_same_run_is_recorded_once()
    {
        var runId = Guid.NewGuid();
        var versioned = new MetricVersioned
        {
            RunId = runId, Workspace = TestTokens.Workspace, MetricId = Guid.NewGuid(), MetricKey = "custom-helpfulness", PreviousVersion = 3, NewVersion = 4,
            AlignedVersion = 2, VersionedAt = DateTimeOffset.UtcNow,
        };

        await PublishAndWait(versioned, NewId.NextGuid(), consumedBefore: 0);
        await PublishAndWait(versioned, NewId.NextGuid(), consumedBefore: 1);

        var entries = await Audit($"?runId={runId}");
        entries.Should().ContainSingle().Which.Summary.Should().Contain("overriding the newer v3");
    }

    [Fact]
    public async Task An_accepted_run_and_its_fork_are_both_in_the_audit_log_newest_first()
    {
        var runId = Guid.NewGuid();
        var forked = Forked(runId);
        var accepted = new AlignmentRunAccepted
        {
            RunId = runId, Workspace = TestTokens.Workspace, MetricId = forked.SourceMetricId, MetricKey = "coherence", FromVersion = 1, Forked = true,
            NewMetricId = forked.NewMetricId, NewMetricKey = forked.NewMetricKey, NewVersion = 1, Disagreements = 37,
            GuidelineCount = 5, AcceptedAt = forked.ForkedAt.AddMilliseconds(5),
        };

        await PublishAndWait(forked, NewId.NextGuid(), consumedBefore: 0);
        await PublishAndWait(accepted, NewId.NextGuid(), consumedBefore: 0);

        var entries = await Audit($"?runId={runId}");
        entries.Select(entry => entry.EventType).Should().Equal(nameof(AlignmentRunAccepted), nameof(MetricForked));
        entries[0].Summary.Should().Contain("5 guidelines from 37 disagreements");
    }

    [Theory]
    [InlineData("?limit=0")]
    [InlineData("?limit=5000")]
    public async Task An_out_of_range_limit_is_a_validation_problem(string query)
    {
        var response = await factory.CreateClient().As(Roles.Viewer).GetAsync("/api/audit" + query);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain("limit");
    }

    [Fact]
    public async Task A_caller_sees_only_the_entries_of_its_own_workspace()
    {
        var ours = Forked(Guid.NewGuid());
        var theirs = Forked(Guid.NewGuid(), TestTokens.OtherWorkspace);

        await PublishAndWait(ours, NewId.NextGuid(), consumedBefore: 0);
        await PublishAndWait(theirs, NewId.NextGuid(), consumedBefore: 1);

        (await Audit()).Select(entry => entry.RunId).Should().Contain(ours.RunId).And.NotContain(theirs.RunId);
        var other = await Audit(workspace: TestTokens.OtherWorkspace);
        other.Select(entry => entry.RunId).Should().Contain(theirs.RunId).And.NotContain(ours.RunId);
        other.Should().OnlyContain(entry => entry.Workspace == TestTokens.OtherWorkspace);
        (await Audit($"?runId={theirs.RunId}")).Should().BeEmpty("another workspace's run looks like an unknown one");
    }

    [Fact]
    public async Task A_service_token_sees_the_workspace_its_request_names()
    {
        var theirs = Forked(Guid.NewGuid(), TestTokens.OtherWorkspace);
        await PublishAndWait(theirs, NewId.NextGuid(), consumedBefore: 0);

        var entries = await factory.CreateClient().AsService(TestTokens.OtherWorkspace)
            .GetFromJsonAsync<List<AuditEntry>>($"/api/audit?runId={theirs.RunId}");

        entries.Should().ContainSingle().Which.Workspace.Should().Be(TestTokens.OtherWorkspace);
    }

    [Fact]
    public async Task A_request_without_a_token_is_refused_with_problem_details()
    {
        var response = await factory.CreateClient().GetAsync("/api/audit");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task A_token_signed_with_another_key_is_refused()
    {
        var client = factory.CreateClient();
        var forged = AccessTokens.Create(Convert.ToBase64String(new byte[32]), TestTokens.Issuer, AccessTokens.DefaultAudience,
            "intruder", [Roles.Admin], TestTokens.Workspace, TimeSpan.FromMinutes(5));
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", forged);

        var response = await client.GetAsync("/api/audit");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }
}
