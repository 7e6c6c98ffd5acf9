using System.Collections.Concurrent;
using Dapper;
using MassTransit;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Extensions;
using MetricAlignment.Alignment.Messages;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.Persistence.Outbox;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Outbox;

/// <summary>Every delivery of the saga's events that the test consumers saw, duplicates included.</summary>
public sealed class SeenEvents
{
    readonly ConcurrentQueue<(Type Type, Guid RunId, Guid? MessageId, Guid? RequestId, Uri? ResponseAddress)> deliveries = new();

    public void Add<T>(ConsumeContext<T> context, Guid runId) where T : class =>
        deliveries.Enqueue((typeof(T), runId, context.MessageId, context.RequestId, context.ResponseAddress));

    readonly ConcurrentDictionary<Guid, int> observed = new();

    public void Observed(Guid runId) => observed.AddOrUpdate(runId, 1, (_, n) => n + 1);

    /// <summary>How often a publish observer saw the run's AlignmentRunQueued published.</summary>
    public int ObservedQueued(Guid runId) => observed.GetValueOrDefault(runId);

    public int Count<T>(Guid runId) => deliveries.Count(d => d.Type == typeof(T) && d.RunId == runId);

    public (Guid? MessageId, Guid? RequestId, Uri? ResponseAddress) Single<T>(Guid runId)
    {
        var seen = deliveries.Where(d => d.Type == typeof(T) && d.RunId == runId).ToList();
        seen.Should().ContainSingle($"{typeof(T).Name} should be delivered once");
        return (seen[0].MessageId, seen[0].RequestId, seen[0].ResponseAddress);
    }

    public async Task WaitForAsync<T>(Guid runId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (Count<T>(runId) == 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{typeof(T).Name} for run {runId} was not delivered.");
            await Task.Delay(50);
        }
    }
}

/// <summary>What the process's publish observers see (RunOutcomeMetrics is one): only what really went to the broker.</summary>
public sealed class PublishedEvents(SeenEvents seen) : IPublishObserver
{
    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        if (context.Message is AlignmentRunQueued queued) seen.Observed(queued.RunId);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

/// <summary>Records the saga's events as another service would receive them.</summary>
public sealed class EventRecorder(SeenEvents seen) :
    IConsumer<AlignmentRunQueued>, IConsumer<AlignmentRunStarted>, IConsumer<AlignmentRunAligned>, IConsumer<AlignmentRunAccepted>,
    IConsumer<MetricForked>, IConsumer<CreateMetricFork>, IConsumer<AlignmentRunCancelled>
{
    public Task Consume(ConsumeContext<AlignmentRunCancelled> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
    public Task Consume(ConsumeContext<AlignmentRunQueued> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
    public Task Consume(ConsumeContext<AlignmentRunStarted> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
    public Task Consume(ConsumeContext<AlignmentRunAligned> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
    public Task Consume(ConsumeContext<AlignmentRunAccepted> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
    public Task Consume(ConsumeContext<MetricForked> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
    public Task Consume(ConsumeContext<CreateMetricFork> context) { seen.Add(context, context.Message.RunId); return Task.CompletedTask; }
}

/// <summary>Stands in for the worker: an ExecuteAlignmentRun is started and completed at once, with disagreements.</summary>
public sealed class InstantWorker(SeenEvents seen) : IConsumer<ExecuteAlignmentRun>
{
    public async Task Consume(ConsumeContext<ExecuteAlignmentRun> context)
    {
        var run = context.Message;
        seen.Add(context, run.RunId);
        await context.Publish(new AlignmentRunExecutionStarted { RunId = run.RunId, Attempt = run.Attempt, WorkerInstance = "test", StartedAt = DateTimeOffset.UtcNow });
        await context.Publish(new AlignmentRunCompleted
        {
            RunId = run.RunId, Attempt = run.Attempt, RowsLoaded = 10, Disagreements = 4, AgreeingRowsSkipped = 6,
            Statistics = new AgreementStatistics { RowCount = 10, ExactAgreement = 0.6, Categories = [], ConfusionMatrix = [] },
            GuidelinesText = "- Penalise unsupported claims.", Guidelines = [new Guideline { Text = "Penalise unsupported claims." }],
            RefinedSystemPrompt = "refined system", RefinedUserPromptTemplate = "refined {{output}}", At = DateTimeOffset.UtcNow,
        });
    }
}

/// <summary>Stands in for the Metrics service: answers a fork request to the address the request names.</summary>
public sealed class InstantMetrics : IConsumer<CreateMetricFork>
{
    public Task Consume(ConsumeContext<CreateMetricFork> context) =>
        context.RespondAsync(new MetricForkCreated
        {
            RunId = context.Message.RunId, SourceMetricId = context.Message.MetricId, SourceVersion = context.Message.BaseVersion,
            NewMetricId = Guid.NewGuid(), NewMetricKey = "faithfulness-aligned", NewMetricName = "Faithfulness (aligned)", NewVersion = 1,
            CreatedAt = DateTimeOffset.UtcNow,
        });
}

/// <summary>
/// A database and vhost shared by the hosts of one test: each host is one Alignment service process with the saga on
/// its PostgreSQL repository, which a test can stop (kill) and replace.
/// </summary>
public sealed class SagaOutboxInfrastructure : IAsyncLifetime
{
    public string Database { get; private set; } = null!;
    public string VirtualHost { get; private set; } = null!;
    readonly List<IHost> hosts = [];
    readonly List<IHost> stopped = [];

    public async Task InitializeAsync()
    {
        Database = await TestInfrastructure.CreateDatabaseAsync("alignment_outbox");
        VirtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-outbox");
    }

    public async Task DisposeAsync()
    {
        foreach (var host in hosts.ToList()) await StopAsync(host);
        // Disposed only now: MassTransit's static log context keeps the first host's logger factory.
        foreach (var host in stopped) host.Dispose();
        await TestInfrastructure.DropDatabaseAsync(Database);
        await TestInfrastructure.DeleteVirtualHostAsync(VirtualHost);
    }

    /// <summary>
    /// A service process. <paramref name="dispatcher"/> false: the saga writes its messages into the outbox but nothing
    /// publishes them, as in a process that dies right after each commit.
    /// </summary>
    public async Task<IHost> StartHostAsync(bool dispatcher, SeenEvents seen, bool worker = false, bool metrics = false)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:" + AlignmentServiceExtensions.DatabaseName] = Database;
        builder.Configuration["ConnectionStrings:messaging"] = VirtualHost;
        builder.Configuration["Outbox:PollInterval"] = "00:00:00.500";
        builder.AddServiceDatabase(AlignmentServiceExtensions.DatabaseName, typeof(AlignmentServiceExtensions).Assembly);
        builder.Services.AddSingleton(seen);
        builder.Services.AddPublishObserver<PublishedEvents>();
        builder.AddMessageBus(bus =>
        {
            bus.AddSagaStateMachine<AlignmentRunStateMachine, AlignmentRunState, AlignmentRunStateDefinition>().PostgresRepository();
            bus.AddConsumer<EventRecorder>();
            if (worker) bus.AddConsumer<InstantWorker>();
            if (metrics) bus.AddConsumer<InstantMetrics>();
        });
        if (dispatcher) builder.AddAlignmentRunOutbox();
        else builder.Services.TryAddSingleton<AlignmentRunOutbox>();
        var host = builder.Build();
        await host.StartAsync();
        hosts.Add(host);
        return host;
    }

    /// <summary>Stops the process's bus, saga and dispatcher (the process is gone as far as the broker and database know).</summary>
    public async Task StopAsync(IHost host)
    {
        if (!hosts.Remove(host)) return;
        await host.StopAsync();
        stopped.Add(host);
    }

    public async Task<T> QueryScalarAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(Database);
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    public async Task ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.ExecuteAsync(sql, parameters);
    }

    public async Task<IReadOnlyList<(Guid Id, string MessageType, DateTime? DispatchedAt)>> OutboxRowsAsync(Guid runId)
    {
        await using var connection = new NpgsqlConnection(Database);
        return (await connection.QueryAsync<(Guid, string, DateTime?)>(
            "SELECT id, message_type, dispatched_at FROM outbox_messages WHERE body->>'runId' = @RunId ORDER BY sequence",
            new { RunId = runId.ToString() })).AsList();
    }

    public async Task<AlignmentRunState?> WaitForRunAsync(IHost host, Guid runId, Func<AlignmentRunState, bool> until, TimeSpan? timeout = null)
    {
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var run = await AlignmentRunStore.GetAsync(dataSource, Workspace, runId, CancellationToken.None);
            if (run is not null && until(run) || DateTime.UtcNow > deadline) return run;
            await Task.Delay(50);
        }
    }

    public const string Workspace = TestTokens.OtherWorkspace;

    public static StartAlignmentRun Start(Guid runId) => new()
    {
        RunId = runId, Workspace = Workspace, MetricId = Guid.NewGuid(), MetricKey = "faithfulness", MetricName = "Faithfulness",
        MetricKind = AlignmentRunStateMachine.BuiltInKind, MetricType = "quantitative", MetricVersion = 3, EvaluationIds = [Guid.NewGuid()],
        ReflectionProvider = "builtin", DeltaThreshold = 1, RequestedAt = DateTimeOffset.UtcNow,
    };

    public static string TypeName<T>() => $"{typeof(T).FullName}, {typeof(T).Assembly.GetName().Name}";
}
