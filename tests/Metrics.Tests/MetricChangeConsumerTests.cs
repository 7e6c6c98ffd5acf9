using System.Net.Http.Json;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.Metrics.Api;
using MetricAlignment.Metrics.Catalogue;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Metrics.Tests;

/// <summary>The bus consumers, through the real broker (a vhost of this fixture's own) and the real database.</summary>
public sealed class MetricChangeConsumerTests(MetricsServiceFixture service) : IClassFixture<MetricsServiceFixture>
{
    IBus Bus => service.Factory.Services.GetRequiredService<IBus>();

    async Task<Response> ForkAsync(CreateMetricFork request) =>
        await Bus.CreateRequestClient<CreateMetricFork>(RequestTimeout.After(s: 30))
            .GetResponse<MetricForkCreated, MetricChangeRejected>(request);

    async Task<Response> PublishAsync(CreateMetricVersion request) =>
        await Bus.CreateRequestClient<CreateMetricVersion>(RequestTimeout.After(s: 30))
            .GetResponse<MetricVersionCreated, MetricChangeRejected>(request);

    static CreateMetricFork ForkRequest(Guid runId, Guid metricId, int baseVersion = 1, string workspace = TestTokens.Workspace) => new()
    {
        RunId = runId,
        Workspace = workspace,
        MetricId = metricId,
        BaseVersion = baseVersion,
        SystemPrompt = "You are a strict fluency judge.",
        UserPromptTemplate = "Source: {{input}}\nSummary: {{output}}\nScore fluency 1-5; fragments cap the score at 3.",
        ChangeNote = "Aligned with reviewers: fragments are penalised.",
        RequestedAt = DateTimeOffset.UtcNow,
    };

    static CreateMetricVersion VersionRequest(Guid runId, Guid metricId, int expected, bool overrideNewer = false,
        string workspace = TestTokens.Workspace) => new()
    {
        RunId = runId,
        Workspace = workspace,
        MetricId = metricId,
        ExpectedCurrentVersion = expected,
        OverrideNewerVersion = overrideNewer,
        SystemPrompt = $"Refined by run {runId}.",
        UserPromptTemplate = "{{input}}\n{{output}}\nScore 1-5.",
        ChangeNote = "Aligned with reviewers.",
        RequestedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task Forking_twice_with_the_same_run_id_creates_one_fork()
    {
        var runId = Guid.NewGuid();
        var fluency = BuiltInCatalogue.SummaryFluency.Id;

        var first = await ForkAsync(ForkRequest(runId, fluency));
        var second = await ForkAsync(ForkRequest(runId, fluency));

        first.Message.Should().BeOfType<MetricForkCreated>();
        var created = (MetricForkCreated)first.Message;
        second.Message.Should().BeEquivalentTo(created);
        created.SourceMetricId.Should().Be(fluency);
        created.SourceVersion.Should().Be(1);
        created.NewVersion.Should().Be(1);
        created.NewMetricName.Should().Be("Fluency (summary) (aligned)");

        var customs = await service.Client.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", MetricsServiceFixture.Json);
        customs!.Where(m => m.ForkedFrom?.MetricId == fluency && m.Id == created.NewMetricId).Should().ContainSingle();
        customs!.Count(m => m.ForkedFrom?.MetricId == fluency).Should().Be(1);

        var fork = await service.GetMetricAsync(created.NewMetricKey);
        fork.Current.CreatedBy.Should().BeEquivalentTo(new CreatedBy(VersionAuthorKind.AlignmentRun, "alignment-service", runId));
        fork.Current.ChangeNote.Should().Be("Aligned with reviewers: fragments are penalised.");
        fork.ForkedFrom.Should().Be(new ForkedFrom(fluency, "fluency", 1));
        (await service.GetMetricAsync("fluency")).CurrentVersion.Should().Be(1);
    }

    [Fact]
    public async Task Two_runs_forking_the_same_metric_get_distinct_keys()
    {
        var a = (MetricForkCreated)(await ForkAsync(ForkRequest(Guid.NewGuid(), BuiltInCatalogue.SummaryCoherence.Id) with { Name = "Coherence tuned" })).Message;
        var b = (MetricForkCreated)(await ForkAsync(ForkRequest(Guid.NewGuid(), BuiltInCatalogue.SummaryCoherence.Id) with { Name = "Coherence tuned" })).Message;

        a.NewMetricKey.Should().Be("coherence-tuned");
        b.NewMetricKey.Should().Be("coherence-tuned-2");
    }

    [Fact]
    public async Task Forking_an_unknown_metric_is_rejected_as_metric_not_found()
    {
        var runId = Guid.NewGuid();
        var missing = Guid.NewGuid();

        var response = await ForkAsync(ForkRequest(runId, missing));

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        (rejected.RunId, rejected.MetricId, rejected.Reason).Should().Be((runId, missing, "metric_not_found"));
    }

    [Fact]
    public async Task Forking_from_a_base_version_that_does_not_exist_is_rejected_as_metric_not_found()
    {
        var response = await ForkAsync(ForkRequest(Guid.NewGuid(), BuiltInCatalogue.Faithfulness.Id, baseVersion: 9));

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        (rejected.Reason, rejected.CurrentVersion).Should().Be(("metric_not_found", 1));
        rejected.Detail.Should().Contain("no version 9");
    }

    [Fact]
    public async Task A_fork_with_an_unusable_prompt_is_rejected_as_invalid_prompt()
    {
        var response = await ForkAsync(ForkRequest(Guid.NewGuid(), BuiltInCatalogue.Helpfulness.Id) with { UserPromptTemplate = "Score {{answer}}" });

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        rejected.Reason.Should().Be("invalid_prompt");
        rejected.Detail.Should().Contain("{{answer}}");
    }

    [Fact]
    public async Task A_version_for_a_metric_that_moved_on_is_rejected_as_a_version_conflict()
    {
        var metric = await service.CreateCustomMetricAsync();
        (await PublishAsync(VersionRequest(Guid.NewGuid(), metric.Id, expected: 1))).Message.Should().BeOfType<MetricVersionCreated>();

        var response = await PublishAsync(VersionRequest(Guid.NewGuid(), metric.Id, expected: 1));

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        (rejected.Reason, rejected.CurrentVersion, rejected.ExpectedVersion).Should().Be(("version_conflict", 2, 1));
        (await service.GetMetricAsync(metric.Key)).CurrentVersion.Should().Be(2);
    }

    [Fact]
    public async Task Overriding_a_newer_version_publishes_on_top_of_it()
    {
        var metric = await service.CreateCustomMetricAsync();
        await PublishAsync(VersionRequest(Guid.NewGuid(), metric.Id, expected: 1));

        var response = await PublishAsync(VersionRequest(Guid.NewGuid(), metric.Id, expected: 1, overrideNewer: true));

        var created = response.Message.Should().BeOfType<MetricVersionCreated>().Subject;
        (created.PreviousVersion, created.NewVersion, created.MetricKey).Should().Be((2, 3, metric.Key));
    }

    [Fact]
    public async Task A_version_of_a_built_in_metric_is_rejected()
    {
        var response = await PublishAsync(VersionRequest(Guid.NewGuid(), BuiltInCatalogue.Verbosity.Id, expected: 1));

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        (rejected.Reason, rejected.CurrentVersion).Should().Be(("built_in_metric", 1));
    }

    [Fact]
    public async Task Repeating_a_version_request_with_the_same_run_id_creates_one_version()
    {
        var metric = await service.CreateCustomMetricAsync();
        var request = VersionRequest(Guid.NewGuid(), metric.Id, expected: 1);

        var first = (MetricVersionCreated)(await PublishAsync(request)).Message;
        var repeat = await PublishAsync(request);

        repeat.Message.Should().BeEquivalentTo(first);
        first.NewVersion.Should().Be(2);
        var versions = await service.Client.GetFromJsonAsync<List<VersionDetail>>($"/api/metrics/{metric.Id}/versions", MetricsServiceFixture.Json);
        versions!.Select(v => v.Version).Should().Equal(2, 1);
        versions![0].CreatedBy.AlignmentRunId.Should().Be(request.RunId);
    }

    [Fact]
    public async Task Concurrent_versions_for_one_metric_are_numbered_in_turn_and_none_is_lost()
    {
        var metric = await service.CreateCustomMetricAsync();
        var runs = new[] { Guid.NewGuid(), Guid.NewGuid() };

        var responses = await Task.WhenAll(runs.Select(run => PublishAsync(VersionRequest(run, metric.Id, expected: 1, overrideNewer: true))));

        var created = responses.Select(r => r.Message).Should().AllBeOfType<MetricVersionCreated>().Subject.ToList();
        created.Select(c => c.NewVersion).Should().BeEquivalentTo([2, 3]);
        created.Select(c => c.RunId).Should().BeEquivalentTo(runs);
        var versions = await service.Client.GetFromJsonAsync<List<VersionDetail>>($"/api/metrics/{metric.Id}/versions", MetricsServiceFixture.Json);
        versions!.Select(v => v.CreatedBy.AlignmentRunId).Where(r => r is not null).Should().BeEquivalentTo(runs.Cast<Guid?>());
        (await service.GetMetricAsync(metric.Key)).CurrentVersion.Should().Be(3);
    }

    [Fact]
    public async Task Many_concurrent_publishers_each_get_their_own_version_number()
    {
        var metric = await service.CreateCustomMetricAsync();
        var changes = service.Factory.Services.GetRequiredService<MetricChanges>();

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => changes.PublishVersionAsync(TestTokens.Workspace, metric.Id.ToString(),
            new NewVersionSpec($"prompt {i}", "{{output}}", new VersionAuthor(VersionAuthorKind.Manual, "load", null), $"edit {i}"),
            expectedCurrentVersion: null, overrideNewerVersion: false, runId: Guid.NewGuid(), CancellationToken.None)));

        results.Should().AllBeOfType<ChangeApplied>();
        results.Cast<ChangeApplied>().Select(r => r.Version.Version).Should().BeEquivalentTo(Enumerable.Range(2, 12));
        (await service.GetMetricAsync(metric.Key)).CurrentVersion.Should().Be(13);
    }

    [Fact]
    public async Task Concurrent_stale_requests_let_exactly_one_through()
    {
        var metric = await service.CreateCustomMetricAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PublishAsync(VersionRequest(Guid.NewGuid(), metric.Id, expected: 1))));

        responses.Count(r => r.Message is MetricVersionCreated).Should().Be(1);
        responses.Where(r => r.Message is MetricChangeRejected).Select(r => ((MetricChangeRejected)r.Message).Reason)
            .Should().HaveCount(3).And.OnlyContain(reason => reason == "version_conflict");
    }

    [Fact]
    public async Task A_fork_command_for_a_workspace_creates_the_fork_in_that_workspace_only()
    {
        var runId = Guid.NewGuid();
        var globex = service.ClientAs(Roles.Viewer, TestTokens.OtherWorkspace);

        var response = await ForkAsync(ForkRequest(runId, BuiltInCatalogue.AnswerRelevance.Id, workspace: TestTokens.OtherWorkspace));

        var created = response.Message.Should().BeOfType<MetricForkCreated>().Subject;
        var fork = await service.GetMetricAsync(created.NewMetricId.ToString(), globex);
        (fork.Workspace, fork.Kind).Should().Be((TestTokens.OtherWorkspace, MetricKind.Custom));
        (await service.Client.GetAsync($"/api/metrics/{created.NewMetricId}")).StatusCode.Should().Be(System.Net.HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_fork_command_cannot_fork_another_workspaces_metric()
    {
        var metric = await service.CreateCustomMetricAsync();
        var runId = Guid.NewGuid();

        var response = await ForkAsync(ForkRequest(runId, metric.Id, workspace: TestTokens.OtherWorkspace));

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        (rejected.RunId, rejected.MetricId, rejected.Reason, rejected.CurrentVersion).Should().Be((runId, metric.Id, "metric_not_found", (int?)null));
    }

    [Fact]
    public async Task A_version_command_for_another_workspaces_metric_is_rejected_as_metric_not_found()
    {
        var metric = await service.CreateCustomMetricAsync();
        var runId = Guid.NewGuid();

        var response = await PublishAsync(VersionRequest(runId, metric.Id, expected: 1, workspace: TestTokens.OtherWorkspace));

        var rejected = response.Message.Should().BeOfType<MetricChangeRejected>().Subject;
        (rejected.RunId, rejected.MetricId, rejected.Reason).Should().Be((runId, metric.Id, "metric_not_found"));
        rejected.CurrentVersion.Should().BeNull("the other workspace must not learn anything about the metric");
        (await service.GetMetricAsync(metric.Key)).CurrentVersion.Should().Be(1);
    }

    [Fact]
    public async Task A_version_command_for_the_metrics_own_workspace_publishes_it()
    {
        var globexAdmin = service.ClientAs(Roles.Admin, TestTokens.OtherWorkspace);
        var metric = await service.CreateCustomMetricAsync(client: globexAdmin);

        var response = await PublishAsync(VersionRequest(Guid.NewGuid(), metric.Id, expected: 1, workspace: TestTokens.OtherWorkspace));

        response.Message.Should().BeOfType<MetricVersionCreated>().Which.NewVersion.Should().Be(2);
        (await service.GetMetricAsync(metric.Key, globexAdmin)).CurrentVersion.Should().Be(2);
    }

    [Fact]
    public async Task A_repeated_run_id_naming_another_workspace_does_not_reveal_the_first_fork()
    {
        var runId = Guid.NewGuid();
        (await ForkAsync(ForkRequest(runId, BuiltInCatalogue.SummaryConsistency.Id))).Message.Should().BeOfType<MetricForkCreated>();

        var repeat = await ForkAsync(ForkRequest(runId, BuiltInCatalogue.SummaryConsistency.Id, workspace: TestTokens.OtherWorkspace));

        repeat.Message.Should().BeOfType<MetricChangeRejected>().Which.Reason.Should().Be("metric_not_found");
    }

    [Fact]
    public async Task A_command_naming_an_invalid_workspace_is_rejected_as_metric_not_found()
    {
        var response = await ForkAsync(ForkRequest(Guid.NewGuid(), BuiltInCatalogue.SummaryFluency.Id, workspace: "Not A Slug"));

        response.Message.Should().BeOfType<MetricChangeRejected>().Which.Reason.Should().Be("metric_not_found");
    }
}
