using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace MetricAlignment.Outbox.Tests;

/// <summary>What keeps the outbox healthy over time: poison messages set aside, old rows cleaned up, a missing schema refused.</summary>
public sealed class Maintenance(OutboxFixture fixture) : IClassFixture<OutboxFixture>
{
    [Fact]
    public async Task A_message_that_cannot_be_rebuilt_is_set_aside_without_holding_up_the_next_one()
    {
        var poisonId = Guid.NewGuid();
        // Enqueued by an older build, for a message type this build no longer has.
        await fixture.ExecuteAsync("""
            INSERT INTO outbox_messages (id, message_type, body) VALUES (@poisonId, 'Retired.Event, Retired.Contracts', '{}')
            """, new { poisonId });
        var probe = OutboxFixture.NewProbe("after the poison");
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received, o =>
        {
            o.RetryBaseDelay = TimeSpan.FromMinutes(1);
            o.RetryMaxDelay = TimeSpan.FromMinutes(5);
        });
        try
        {
            await fixture.ChangeAndEnqueueAsync(probe);

            await received.WaitForAllAsync([probe.Key], TimeSpan.FromSeconds(30));

            received.Count(probe.Key).Should().Be(1);
            var poison = await fixture.OutboxRowAsync(poisonId);
            poison!.DispatchedAt.Should().BeNull();
            poison.Attempts.Should().Be(1, "it is not retried before its backoff is over");
            poison.LastError.Should().Contain("Retired.Event");
            poison.NextAttemptAt.Should().BeAfter(DateTime.UtcNow, "it waits out a backoff before the next try");
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task Dispatched_messages_and_inbox_records_past_their_retention_are_deleted_and_the_rest_is_kept()
    {
        Guid oldDispatched = Guid.NewGuid(), recentDispatched = Guid.NewGuid(), pending = Guid.NewGuid();
        Guid oldInbox = Guid.NewGuid(), recentInbox = Guid.NewGuid();
        await fixture.ExecuteAsync("""
            INSERT INTO outbox_messages (id, message_type, body, dispatched_at, next_attempt_at) VALUES
                (@oldDispatched, 'Old.Event, Old', '{}', now() - interval '8 days', now()),
                (@recentDispatched, 'Recent.Event, Recent', '{}', now() - interval '1 day', now()),
                -- Never dispatched and not due for a long while: old, but kept however old it gets.
                (@pending, 'Pending.Event, Pending', '{}', NULL, now() + interval '1 day');
            UPDATE outbox_messages SET created_at = now() - interval '9 days' WHERE id = @pending;
            INSERT INTO inbox_messages (consumer, message_id, processed_at) VALUES
                ('fork-consumer', @oldInbox, now() - interval '31 days'),
                ('fork-consumer', @recentInbox, now() - interval '2 days');
            """, new { oldDispatched, recentDispatched, pending, oldInbox, recentInbox });

        var host = await fixture.StartHostAsync(new ReceivedProbes(), o =>
        {
            o.Retention = TimeSpan.FromDays(7);
            o.InboxRetention = TimeSpan.FromDays(30);
            o.CleanupInterval = TimeSpan.FromMilliseconds(500);
        });
        try
        {
            await OutboxFixture.WaitUntilAsync(async () => await fixture.OutboxRowAsync(oldDispatched) is null,
                TimeSpan.FromSeconds(30), "the clean-up ran");
            await OutboxFixture.WaitUntilAsync(async () => await InboxCountAsync(oldInbox) == 0,
                TimeSpan.FromSeconds(30), "the inbox clean-up ran");

            (await fixture.OutboxRowAsync(recentDispatched)).Should().NotBeNull("it is within the retention");
            (await fixture.OutboxRowAsync(pending)).Should().NotBeNull("a message that never went out is never deleted");
            (await InboxCountAsync(recentInbox)).Should().Be(1);
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task A_service_whose_database_lacks_the_outbox_tables_stops_instead_of_running_without_publishing()
    {
        var database = await TestInfrastructure.CreateDatabaseAsync("nooutbox");
        try
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration[$"ConnectionStrings:{OutboxFixture.DatabaseName}"] = database;
            builder.Configuration[$"ConnectionStrings:{MessagingExtensions.ConnectionName}"] = fixture.MessagingConnectionString;
            // An assembly with no migrations: the service forgot to copy the outbox script.
            builder.AddServiceDatabase(OutboxFixture.DatabaseName, typeof(OutboxOptions).Assembly);
            builder.AddMessageBus();
            builder.AddTransactionalOutbox();
            using var host = builder.Build();
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

            try
            {
                await host.StartAsync();
                await OutboxFixture.WaitUntilAsync(() => Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested),
                    TimeSpan.FromSeconds(30), "the host stops");
            }
            catch (InvalidOperationException e)
            {
                e.Message.Should().Contain(nameof(OutboxSchema.MigrationSql));
            }
            await host.StopAsync();
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(database);
        }
    }

    [Fact]
    public void The_outbox_needs_the_database_and_the_bus_registered_first()
    {
        var builder = Host.CreateApplicationBuilder();

        var act = () => builder.AddTransactionalOutbox();

        act.Should().Throw<InvalidOperationException>().WithMessage("*AddServiceDatabase*");
    }

    async Task<long> InboxCountAsync(Guid messageId) =>
        await fixture.QueryAsync<long>("SELECT count(*) FROM inbox_messages WHERE message_id = @messageId", new { messageId });
}

/// <summary>The parts that need no infrastructure.</summary>
public sealed class Outbox_api
{
    [Fact]
    public void The_migration_a_service_copies_is_the_published_script()
    {
        // This project holds its copy the way a service does; a drift here means the copying instructions are wrong.
        using var stream = typeof(Outbox_api).Assembly.GetManifestResourceStream("MetricAlignment.Outbox.Tests.Migrations.0002_outbox.sql")!;
        var copy = new StreamReader(stream).ReadToEnd();

        copy.ReplaceLineEndings("\n").TrimEnd().Should().Be(OutboxSchema.MigrationSql.ReplaceLineEndings("\n").TrimEnd());
    }

    [Fact]
    public void A_message_id_derived_from_a_key_is_stable_distinct_and_a_version_5_uuid()
    {
        var id = TransactionalOutbox.MessageIdFor("metric-forked:run-1");

        TransactionalOutbox.MessageIdFor("metric-forked:run-1").Should().Be(id);
        TransactionalOutbox.MessageIdFor("metric-forked:run-2").Should().NotBe(id);
        TransactionalOutbox.MessageIdFor("metric-versioned:run-1").Should().NotBe(id);
        id.ToString()[14].Should().Be('5');
        id.ToString()[19].Should().BeOneOf('8', '9', 'a', 'b');
    }

    [Fact]
    public async Task Enqueueing_with_a_transaction_of_another_connection_is_refused()
    {
        await using var connection = new NpgsqlConnection(TestInfrastructure.PostgresAdminConnectionString);
        await using var other = new NpgsqlConnection(TestInfrastructure.PostgresAdminConnectionString);
        await connection.OpenAsync();
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();

        var act = () => TransactionalOutbox.EnqueueAsync(connection, transaction, OutboxFixture.NewProbe());

        await act.Should().ThrowAsync<ArgumentException>();
    }
}
