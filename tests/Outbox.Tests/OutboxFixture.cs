using System.Collections.Concurrent;
using Dapper;
using MassTransit;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MetricAlignment.Outbox.Tests;

/// <summary>The event a test service announces through its outbox.</summary>
public sealed record OutboxProbe
{
    public required Guid Key { get; init; }
    public required string Text { get; init; }
}

public sealed record ReceivedProbe(Guid Key, Guid? MessageId, Guid? CorrelationId, Guid? ConversationId, Guid? InitiatorId, string? Tenant);

/// <summary>Every delivery the consumers of one test saw, duplicates included.</summary>
public sealed class ReceivedProbes
{
    readonly ConcurrentQueue<ReceivedProbe> deliveries = new();

    public void Add(ConsumeContext<OutboxProbe> context) => deliveries.Enqueue(new ReceivedProbe(context.Message.Key, context.MessageId,
        context.CorrelationId, context.ConversationId, context.InitiatorId, context.Headers.Get<string>("tenant")));

    public IReadOnlyList<ReceivedProbe> For(Guid key) => deliveries.Where(d => d.Key == key).ToList();

    public int Count(Guid key) => deliveries.Count(d => d.Key == key);

    /// <summary>Waits until every key was delivered at least once, then a little longer for any duplicate to show up.</summary>
    public async Task WaitForAllAsync(IReadOnlyCollection<Guid> keys, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (keys.Any(k => Count(k) == 0))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{keys.Count(k => Count(k) == 0)} of {keys.Count} message(s) were not delivered within {timeout}.");
            await Task.Delay(100);
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
    }
}

public sealed class ProbeConsumer(ReceivedProbes received) : IConsumer<OutboxProbe>
{
    public Task Consume(ConsumeContext<OutboxProbe> context)
    {
        received.Add(context);
        return Task.CompletedTask;
    }
}

/// <summary>A consumer made idempotent with the inbox: its effect (a probe_effects row) is applied once per message id.</summary>
public sealed class IdempotentProbeConsumer(ReceivedProbes received, NpgsqlDataSource dataSource) : IConsumer<OutboxProbe>
{
    public const string Name = "idempotent-probe";

    public async Task Consume(ConsumeContext<OutboxProbe> context)
    {
        received.Add(context);
        await using var connection = await dataSource.OpenConnectionAsync(context.CancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(context.CancellationToken);
        if (!await Inbox.TryBeginAsync(connection, transaction, Name, context)) return;
        await connection.ExecuteAsync("INSERT INTO probe_effects (key) VALUES (@Key)", new { context.Message.Key }, transaction);
        await transaction.CommitAsync(context.CancellationToken);
    }
}

/// <summary>Counts what one host's bus published; optionally slows each publish so that two dispatchers overlap.</summary>
public sealed class PublishCounter(TimeSpan delay) : IPublishObserver
{
    int published;
    public int Published => Volatile.Read(ref published);

    public async Task PrePublish<T>(PublishContext<T> context) where T : class
    {
        if (delay > TimeSpan.Zero) await Task.Delay(delay);
    }

    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        if (context.Message is OutboxProbe) Interlocked.Increment(ref published);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

public sealed record OutboxRow(Guid Id, DateTime? DispatchedAt, int Attempts, string? LastError, DateTime NextAttemptAt);

/// <summary>
/// A service's database (its migrations: probes plus the copied outbox script) and RabbitMQ vhost, fresh for each test
/// class. Hosts built here are that service's instances.
/// </summary>
public sealed class OutboxFixture : IAsyncLifetime
{
    public const string DatabaseName = "outboxdb";

    public string DatabaseConnectionString { get; private set; } = "";
    public string MessagingConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        DatabaseConnectionString = await TestInfrastructure.CreateDatabaseAsync("outbox");
        MessagingConnectionString = await TestInfrastructure.CreateVirtualHostAsync("outbox");
        await using var dataSource = NpgsqlDataSource.Create(DatabaseConnectionString);
        await new SchemaMigrator(dataSource, new MigrationSource(typeof(OutboxFixture).Assembly), NullLogger<SchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await TestInfrastructure.DropDatabaseAsync(DatabaseConnectionString);
        await TestInfrastructure.DeleteVirtualHostAsync(MessagingConnectionString);
    }

    /// <summary>An instance of the service: its database, its bus with a consumer of the probes, and (unless told not to) the outbox.</summary>
    public IHost BuildHost(ReceivedProbes received, Action<OutboxOptions>? configure = null, bool outbox = true,
        bool idempotentConsumer = false, PublishCounter? publishes = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration[$"ConnectionStrings:{DatabaseName}"] = DatabaseConnectionString;
        builder.Configuration[$"ConnectionStrings:{MessagingExtensions.ConnectionName}"] = MessagingConnectionString;
        builder.Services.AddSingleton(received);
        if (publishes is not null) builder.Services.AddPublishObserver(_ => publishes);
        builder.AddServiceDatabase(DatabaseName, typeof(OutboxFixture).Assembly);
        builder.AddMessageBus(bus =>
        {
            if (idempotentConsumer) bus.AddConsumer<IdempotentProbeConsumer>().Endpoint(e => e.Name = IdempotentProbeConsumer.Name);
            else bus.AddConsumer<ProbeConsumer>();
        });
        if (outbox)
        {
            builder.AddTransactionalOutbox(options =>
            {
                // Quick enough for tests; each test that depends on timing sets what it needs.
                options.PollInterval = TimeSpan.FromSeconds(1);
                options.RetryBaseDelay = TimeSpan.FromMilliseconds(200);
                options.RetryMaxDelay = TimeSpan.FromSeconds(1);
                options.PublishTimeout = TimeSpan.FromSeconds(3);
                configure?.Invoke(options);
            });
        }
        return builder.Build();
    }

    public async Task<IHost> StartHostAsync(ReceivedProbes received, Action<OutboxOptions>? configure = null, bool outbox = true,
        bool idempotentConsumer = false, PublishCounter? publishes = null)
    {
        var host = BuildHost(received, configure, outbox, idempotentConsumer, publishes);
        await host.StartAsync();
        return host;
    }

    /// <summary>What a service does: change its state and enqueue the event announcing it, in one transaction.</summary>
    public async Task<Guid> ChangeAndEnqueueAsync(OutboxProbe probe, bool commit = true, Guid? messageId = null, OutboxCorrelation? correlation = null)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("INSERT INTO probes (key, text) VALUES (@Key, @Text)", probe, transaction);
        var id = await TransactionalOutbox.EnqueueAsync(connection, transaction, probe, messageId, correlation);
        if (commit) await transaction.CommitAsync();
        else await transaction.RollbackAsync();
        return id;
    }

    public static OutboxProbe NewProbe(string text = "probe") => new() { Key = Guid.NewGuid(), Text = text };

    public async Task<T> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        return await connection.QuerySingleAsync<T>(sql, parameters);
    }

    public async Task<int> ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        return await connection.ExecuteAsync(sql, parameters);
    }

    public async Task<OutboxRow?> OutboxRowAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        return await connection.QuerySingleOrDefaultAsync<OutboxRow>(
            "SELECT id, dispatched_at AS DispatchedAt, attempts, last_error AS LastError, next_attempt_at AS NextAttemptAt FROM outbox_messages WHERE id = @id",
            new { id });
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout} waiting until {because}.");
            await Task.Delay(100);
        }
    }

    public static async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        host.Dispose();
    }
}
