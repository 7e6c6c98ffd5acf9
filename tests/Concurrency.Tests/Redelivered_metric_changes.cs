using System.Net.Http.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;
using Xunit.Abstractions;

namespace MetricAlignment.Concurrency.Tests;

/// <summary>
/// The Metrics service's fork and version consumers given the same request (same RunId) many times at once, as when the
/// broker redelivers a message whose acknowledgement was lost while the first delivery is still being handled, or when
/// the sweeper re-sends an accept that was slow to answer.
/// </summary>
[Collection(ConcurrencyServicesCollection.Name)]
public sealed class Redelivered_metric_changes(ConcurrencyServices services, ITestOutputHelper output)
{
    const int Copies = 8;

    [Fact]
    public async Task Concurrent_copies_of_one_version_request_create_one_version_and_all_get_its_answer()
    {
        var metricId = await services.CreateCustomMetricAsync();
        var request = new CreateMetricVersion
        {
            RunId = Guid.NewGuid(), Workspace = TestTokens.Workspace, MetricId = metricId, ExpectedCurrentVersion = 1,
            OverrideNewerVersion = false, SystemPrompt = "You judge tone strictly.", UserPromptTemplate = "{{input}}\n{{output}}\nScore 1-5.",
            ChangeNote = "Aligned with reviewers.", RequestedAt = DateTimeOffset.UtcNow,
        };
        var client = services.MetricsBus.CreateRequestClient<CreateMetricVersion>(RequestTimeout.After(s: 60));

        var answers = await Task.WhenAll(Enumerable.Range(0, Copies).Select(_ => client.GetResponse<MetricVersionCreated, MetricChangeRejected>(request)));
        var late = await client.GetResponse<MetricVersionCreated, MetricChangeRejected>(request);

        var created = answers.Append(late).Select(a => a.Message).ToList();
        output.WriteLine($"Copies of one CreateMetricVersion: {Copies} at once + 1 later; answers: " +
            string.Join(", ", created.GroupBy(m => m is MetricVersionCreated v ? $"created v{v.NewVersion}" : "rejected").Select(g => $"{g.Key} x{g.Count()}")));
        created.Should().OnlyContain(m => m is MetricVersionCreated && ((MetricVersionCreated)m).NewVersion == 2 && ((MetricVersionCreated)m).PreviousVersion == 1);
        (await services.VersionNumbersAsync(metricId)).Should().Equal(1, 2);
    }

    [Fact]
    public async Task Concurrent_copies_of_one_fork_request_create_one_fork()
    {
        var sourceId = await services.CreateCustomMetricAsync();
        var request = new CreateMetricFork
        {
            RunId = Guid.NewGuid(), Workspace = TestTokens.Workspace, MetricId = sourceId, BaseVersion = 1, Name = null,
            SystemPrompt = "You judge tone strictly.", UserPromptTemplate = "{{input}}\n{{output}}\nScore 1-5.",
            ChangeNote = "Aligned with reviewers.", RequestedAt = DateTimeOffset.UtcNow,
        };
        var client = services.MetricsBus.CreateRequestClient<CreateMetricFork>(RequestTimeout.After(s: 60));

        var answers = await Task.WhenAll(Enumerable.Range(0, Copies).Select(_ => client.GetResponse<MetricForkCreated, MetricChangeRejected>(request)));

        var forks = answers.Select(a => a.Message).OfType<MetricForkCreated>().ToList();
        forks.Should().HaveCount(Copies, "every copy is answered with the fork");
        forks.Select(f => f.NewMetricId).Distinct().Should().ContainSingle();
        var customs = await services.Metrics.GetFromJsonAsync<JsonArray>("/api/metrics?kind=custom");
        var forksOfSource = customs!.Count(m => (string?)m!["forkedFrom"]?["metricId"] == sourceId.ToString());
        output.WriteLine($"Copies of one CreateMetricFork at once: {Copies}; distinct forks answered: {forks.Select(f => f.NewMetricId).Distinct().Count()}; forks stored: {forksOfSource}");
        forksOfSource.Should().Be(1);
    }
}
