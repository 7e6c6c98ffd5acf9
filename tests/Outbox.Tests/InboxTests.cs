using MetricAlignment.ServiceDefaults;
using Npgsql;

namespace MetricAlignment.Outbox.Tests;

/// <summary>The inbox as a consumer uses it: in the transaction of its effects.</summary>
public sealed class Inbox_deduplication(OutboxFixture fixture) : IClassFixture<OutboxFixture>
{
    [Fact]
    public async Task The_inbox_refuses_a_message_id_the_consumer_has_already_processed()
    {
        var messageId = Guid.NewGuid();

        (await TryBeginAsync("fork-consumer", messageId, commit: true)).Should().BeTrue();

        (await TryBeginAsync("fork-consumer", messageId, commit: true)).Should().BeFalse();
    }

    [Fact]
    public async Task A_delivery_that_rolled_back_does_not_count_as_processed()
    {
        var messageId = Guid.NewGuid();

        (await TryBeginAsync("fork-consumer", messageId, commit: false)).Should().BeTrue();

        (await TryBeginAsync("fork-consumer", messageId, commit: true)).Should().BeTrue("the first delivery's effects were rolled back with it");
    }

    [Fact]
    public async Task A_message_processed_by_one_consumer_is_still_new_to_another()
    {
        var messageId = Guid.NewGuid();
        await TryBeginAsync("fork-consumer", messageId, commit: true);

        (await TryBeginAsync("audit-consumer", messageId, commit: true)).Should().BeTrue();
    }

    [Fact]
    public async Task A_concurrent_duplicate_waits_for_the_first_delivery_and_is_refused_when_it_commits()
    {
        var messageId = Guid.NewGuid();
        await using var first = await OpenAsync();
        await using var firstTransaction = await first.BeginTransactionAsync();
        (await Inbox.TryBeginAsync(first, firstTransaction, "fork-consumer", messageId)).Should().BeTrue();

        var duplicate = TryBeginAsync("fork-consumer", messageId, commit: true);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        duplicate.IsCompleted.Should().BeFalse("the duplicate cannot know yet whether the first delivery commits");
        await firstTransaction.CommitAsync();

        (await duplicate.WaitAsync(TimeSpan.FromSeconds(10))).Should().BeFalse();
    }

    [Fact]
    public async Task An_empty_message_id_is_refused()
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        var act = () => Inbox.TryBeginAsync(connection, transaction, "fork-consumer", Guid.Empty);

        await act.Should().ThrowAsync<ArgumentException>();
    }

    async Task<bool> TryBeginAsync(string consumer, Guid messageId, bool commit)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var isNew = await Inbox.TryBeginAsync(connection, transaction, consumer, messageId);
        if (commit) await transaction.CommitAsync();
        else await transaction.RollbackAsync();
        return isNew;
    }

    async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(fixture.DatabaseConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
