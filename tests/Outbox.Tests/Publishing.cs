using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Outbox.Tests;

/// <summary>The outbox on the real PostgreSQL and RabbitMQ: what is committed goes out once, what is not never does.</summary>
public sealed class Publishing(OutboxFixture fixture) : IClassFixture<OutboxFixture>
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_message_enqueued_in_a_committed_transaction_is_published_once_with_its_message_id_and_correlation()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received);
        try
        {
            var probe = OutboxFixture.NewProbe();
            var messageId = Guid.NewGuid();
            var correlation = new OutboxCorrelation
            {
                CorrelationId = Guid.NewGuid(),
                ConversationId = Guid.NewGuid(),
                InitiatorId = Guid.NewGuid(),
                Headers = new Dictionary<string, string> { ["tenant"] = "globex" },
            };

            var returned = await fixture.ChangeAndEnqueueAsync(probe, messageId: messageId, correlation: correlation);
            await received.WaitForAllAsync([probe.Key], Timeout);

            returned.Should().Be(messageId);
            received.For(probe.Key).Should().ContainSingle().Which.Should().Be(new ReceivedProbe(probe.Key, messageId,
                correlation.CorrelationId, correlation.ConversationId, correlation.InitiatorId, "globex"));
            var row = await fixture.OutboxRowAsync(messageId);
            row!.DispatchedAt.Should().NotBeNull();
            row.Attempts.Should().Be(1);
            row.LastError.Should().BeNull();
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task A_rolled_back_transaction_publishes_nothing()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received);
        try
        {
            var rolledBack = OutboxFixture.NewProbe("rolled back");
            var rolledBackId = await fixture.ChangeAndEnqueueAsync(rolledBack, commit: false);
            // Enqueued after the rolled-back one: once it is delivered, the dispatcher has been past where the other would be.
            var committed = OutboxFixture.NewProbe("committed");
            await fixture.ChangeAndEnqueueAsync(committed);

            await received.WaitForAllAsync([committed.Key], Timeout);

            received.Count(rolledBack.Key).Should().Be(0);
            (await fixture.OutboxRowAsync(rolledBackId)).Should().BeNull("the message went with the rest of its transaction");
            (await fixture.QueryAsync<long>("SELECT count(*) FROM probes WHERE key = @Key", new { rolledBack.Key })).Should().Be(0);
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task A_message_committed_while_the_service_is_down_is_published_when_an_instance_starts_again()
    {
        // The service dies between its commit and its publish: with the outbox, the publish is a committed row that no
        // process is around to send. Commit while no instance runs, and see nothing go out until an instance is back.
        // (The instance is stopped, not abandoned: an abandoned bus would stay connected and take the test's deliveries.)
        var received = new ReceivedProbes();
        await OutboxFixture.StopAsync(await fixture.StartHostAsync(received));

        var probe = OutboxFixture.NewProbe("committed before the crash");
        var messageId = await fixture.ChangeAndEnqueueAsync(probe);
        await Task.Delay(TimeSpan.FromSeconds(2));
        received.Count(probe.Key).Should().Be(0, "no instance is running");
        (await fixture.OutboxRowAsync(messageId))!.DispatchedAt.Should().BeNull();

        var restarted = await fixture.StartHostAsync(received);
        try
        {
            await received.WaitForAllAsync([probe.Key], Timeout);

            received.For(probe.Key).Should().ContainSingle().Which.MessageId.Should().Be(messageId);
            (await fixture.OutboxRowAsync(messageId))!.DispatchedAt.Should().NotBeNull();
        }
        finally
        {
            await OutboxFixture.StopAsync(restarted);
        }
    }

    [Fact]
    public async Task Two_dispatchers_on_one_database_publish_each_message_once()
    {
        // A backlog both instances find at start, each publish slowed a little so that they certainly work at the same time.
        var keys = new List<Guid>();
        for (var transaction = 0; transaction < 15; transaction++)
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, 10), async (_, _) =>
            {
                var probe = OutboxFixture.NewProbe("backlog");
                lock (keys) keys.Add(probe.Key);
                await fixture.ChangeAndEnqueueAsync(probe);
            });
        }

        var received = new ReceivedProbes();
        PublishCounter first = new(TimeSpan.FromMilliseconds(20)), second = new(TimeSpan.FromMilliseconds(20));
        var hosts = await Task.WhenAll(
            fixture.StartHostAsync(received, o => o.BatchSize = 5, publishes: first),
            fixture.StartHostAsync(received, o => o.BatchSize = 5, publishes: second));
        try
        {
            await received.WaitForAllAsync(keys, TimeSpan.FromSeconds(60));

            keys.Select(received.Count).Should().OnlyContain(count => count == 1, "no message is delivered twice");
            (first.Published + second.Published).Should().Be(keys.Count, "no message is published twice");
            first.Published.Should().BePositive("both dispatchers took part");
            second.Published.Should().BePositive("both dispatchers took part");
            (await fixture.QueryAsync<long>("SELECT count(*) FROM outbox_messages WHERE dispatched_at IS NULL AND body->>'text' = 'backlog'"))
                .Should().Be(0);
        }
        finally
        {
            await Task.WhenAll(hosts.Select(OutboxFixture.StopAsync));
        }
    }

    [Fact]
    public async Task A_commit_wakes_the_dispatcher_without_waiting_for_the_next_poll()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received, o => o.PollInterval = TimeSpan.FromMinutes(10));
        try
        {
            // The notification of a commit made before the dispatcher listens would be lost (and only the poll would find it).
            await OutboxFixture.WaitUntilAsync(async () => await fixture.QueryAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'") > 0,
                Timeout, "the dispatcher listens");
            var probe = OutboxFixture.NewProbe("notified");

            await fixture.ChangeAndEnqueueAsync(probe);

            await received.WaitForAllAsync([probe.Key], TimeSpan.FromSeconds(10));
            received.Count(probe.Key).Should().Be(1);
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task A_message_committed_without_a_notification_is_found_by_polling()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received, o => o.PollInterval = TimeSpan.FromSeconds(1));
        try
        {
            // The row as EnqueueAsync writes it, but with no NOTIFY: as if the listening connection had been down.
            var probe = OutboxFixture.NewProbe("unannounced");
            var messageId = Guid.NewGuid();
            await fixture.ExecuteAsync("""
                INSERT INTO outbox_messages (id, message_type, body)
                VALUES (@messageId, 'MetricAlignment.Outbox.Tests.OutboxProbe, MetricAlignment.Outbox.Tests', jsonb_build_object('key', @key, 'text', @text))
                """, new { messageId, key = probe.Key, text = probe.Text });

            await received.WaitForAllAsync([probe.Key], TimeSpan.FromSeconds(15));

            received.For(probe.Key).Should().ContainSingle().Which.MessageId.Should().Be(messageId);
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task Enqueueing_a_message_id_twice_publishes_it_once()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received);
        try
        {
            // A handler that runs again (a redelivered command) derives the same id from what it did.
            var probe = OutboxFixture.NewProbe("retried handler");
            var messageId = TransactionalOutbox.MessageIdFor($"probe-changed:{probe.Key}");
            await fixture.ChangeAndEnqueueAsync(probe, messageId: messageId);
            await using (var connection = new Npgsql.NpgsqlConnection(fixture.DatabaseConnectionString))
            {
                await connection.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                (await TransactionalOutbox.EnqueueAsync(connection, transaction, probe with { Text = "second run" }, messageId)).Should().Be(messageId);
                await transaction.CommitAsync();
            }

            await received.WaitForAllAsync([probe.Key], Timeout);

            received.Count(probe.Key).Should().Be(1);
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }

    [Fact]
    public async Task A_message_published_again_after_a_crash_keeps_its_message_id_so_an_inbox_consumer_applies_it_once()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received, idempotentConsumer: true);
        try
        {
            var probe = OutboxFixture.NewProbe("republished");
            var messageId = await fixture.ChangeAndEnqueueAsync(probe);
            await received.WaitForAllAsync([probe.Key], Timeout);

            // A dispatcher that died after the broker confirmed but before its batch committed leaves the row undispatched.
            await fixture.ExecuteAsync("UPDATE outbox_messages SET dispatched_at = NULL WHERE id = @messageId", new { messageId });
            await OutboxFixture.WaitUntilAsync(() => Task.FromResult(received.Count(probe.Key) == 2), Timeout, "the message is published again");
            await Task.Delay(TimeSpan.FromSeconds(1));

            received.For(probe.Key).Should().HaveCount(2).And.OnlyContain(d => d.MessageId == messageId);
            (await fixture.QueryAsync<long>("SELECT count(*) FROM probe_effects WHERE key = @Key", new { probe.Key }))
                .Should().Be(1, "the inbox recognised the second delivery");
        }
        finally
        {
            await OutboxFixture.StopAsync(host);
        }
    }
}
