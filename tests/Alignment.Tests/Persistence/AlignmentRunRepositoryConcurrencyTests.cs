using System.Collections.Concurrent;
using Dapper;
using MassTransit;
using MetricAlignment.Alignment.Extensions;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Persistence;

/// <summary>
/// The saga on its PostgreSQL repository, in two processes sharing one database and vhost: Start, Cancel and
/// duplicate Starts of many runs arrive at once, in any order, on either process.
/// </summary>
public sealed class When_starts_cancels_and_duplicates_race_for_many_runs : IAsyncLifetime
{
    const int Runs = 60;
    string database = null!;
    string virtualHost = null!;
    readonly List<IHost> hosts = [];
    static readonly ConcurrentDictionary<Guid, int> Queued = new();
    static readonly ConcurrentDictionary<Guid, int> Cancelled = new();

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_repo");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-repo");
        for (var i = 0; i < 2; i++)
        {
            var countEvents = i == 0;
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration["ConnectionStrings:" + AlignmentServiceExtensions.DatabaseName] = database;
            builder.Configuration["ConnectionStrings:messaging"] = virtualHost;
            builder.AddServiceDatabase(AlignmentServiceExtensions.DatabaseName, typeof(AlignmentServiceExtensions).Assembly);
            builder.AddMessageBus(bus =>
            {
                bus.AddSagaStateMachine<AlignmentRunStateMachine, AlignmentRunState, AlignmentRunStateDefinition>().PostgresRepository();
                if (countEvents) bus.AddConsumer<EventCounter>();
            });
            var host = builder.Build();
            await host.StartAsync();
            hosts.Add(host);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var host in hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }
        await TestInfrastructure.DropDatabaseAsync(database);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    [Fact]
    public async Task Every_run_ends_cancelled_queued_at_most_once_and_cancelled_exactly_once()
    {
        var runIds = Enumerable.Range(0, Runs).Select(_ => NewId.NextGuid()).ToList();
        var metricId = Guid.NewGuid();
        const string workspace = TestTokens.OtherWorkspace;
        var sends = new List<Task>();
        foreach (var runId in runIds)
        {
            var start = new StartAlignmentRun
            {
                RunId = runId, Workspace = workspace, MetricId = metricId, MetricKey = "faithfulness", MetricName = "Faithfulness", MetricKind = "built_in",
                MetricType = "quantitative", MetricVersion = 1, EvaluationIds = [Guid.NewGuid()], ReflectionProvider = "builtin",
                DeltaThreshold = 1, RequestedAt = DateTimeOffset.UtcNow,
            };
            var cancel = new CancelAlignmentRun { RunId = runId, RequestedAt = DateTimeOffset.UtcNow };
            sends.Add(Bus(0).Publish(start));
            sends.Add(Bus(1).Publish(cancel));
            sends.Add(Bus(1).Publish(start));
            sends.Add(Bus(0).Publish(start));
        }
        await Task.WhenAll(sends);

        var dataSource = hosts[0].Services.GetRequiredService<NpgsqlDataSource>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        List<AlignmentRunState> runs;
        do
        {
            await Task.Delay(250);
            runs = (await Task.WhenAll(runIds.Select(id => AlignmentRunStore.GetAsync(dataSource, workspace, id, CancellationToken.None))))
                .Where(r => r is not null).Select(r => r!).ToList();
        } while ((runs.Count < Runs || runs.Any(r => r.CurrentState != "Cancelled" || r.MetricId == Guid.Empty)
                  || runIds.Any(id => Cancelled.GetValueOrDefault(id) == 0)) && DateTime.UtcNow < deadline);
        // Let duplicate publishes, if any were made, arrive before counting.
        await Task.Delay(1000);

        runs.Should().HaveCount(Runs);
        runs.Should().OnlyContain(r => r.CurrentState == "Cancelled");
        runs.Should().OnlyContain(r => r.MetricId == metricId, "a start that lost the race still records the run's metric");
        runs.Should().OnlyContain(r => r.Workspace == workspace, "and its workspace");
        runIds.Should().OnlyContain(id => Cancelled.GetValueOrDefault(id) == 1);
        runIds.Should().OnlyContain(id => Queued.GetValueOrDefault(id) <= 1);
        await using var connection = await dataSource.OpenConnectionAsync();
        (await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM alignment_runs WHERE version < 2")).Should().Be(0,
            "every run was written more than once, and each write bumps its version");
    }

    IBus Bus(int index) => hosts[index].Services.GetRequiredService<IBus>();

    public sealed class EventCounter : IConsumer<AlignmentRunQueued>, IConsumer<AlignmentRunCancelled>
    {
        public Task Consume(ConsumeContext<AlignmentRunQueued> context)
        {
            Queued.AddOrUpdate(context.Message.RunId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }

        public Task Consume(ConsumeContext<AlignmentRunCancelled> context)
        {
            Cancelled.AddOrUpdate(context.Message.RunId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }
    }
}
