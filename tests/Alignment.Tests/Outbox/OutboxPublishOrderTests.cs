using System.Collections.Concurrent;
using MassTransit;
using MetricAlignment.Alignment.Tests.Api;
using MetricAlignment.Alignment.Tests.Fakes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Outbox;

/// <summary>A message of one conversation, numbered in the order it was enqueued.</summary>
public sealed record OutboxOrderProbe
{
    public required Guid Conversation { get; init; }
    public required int Index { get; init; }
}

/// <summary>Every probe the process published, in the order the broker confirmed them.</summary>
public sealed class ConfirmedProbes : IPublishObserver
{
    public ConcurrentQueue<OutboxOrderProbe> Confirmed { get; } = new();

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        if (context.Message is OutboxOrderProbe probe) Confirmed.Enqueue(probe);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}

/// <summary>The Alignment service's outbox dispatcher publishing several conversations at once (Outbox:PublishConcurrency).</summary>
public sealed class The_outbox_dispatcher_of_the_alignment_service : IAsyncLifetime
{
    readonly ConfirmedProbes confirmed = new();
    string database = null!;
    string virtualHost = null!;
    WebApplicationFactory<Program> factory = null!;

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_outbox_order");
        virtualHost = await TestInfrastructure.CreateVirtualHostAsync("alignment-outbox-order");
        factory = AlignmentAppFixture.CreateFactory(database, virtualHost, new FakeMetricsClient(), new FakeAnnotationsClient(), new())
            .WithWebHostBuilder(web => web.ConfigureTestServices(services => services.AddPublishObserver(_ => confirmed)));
        using var client = factory.CreateClient();
        (await client.GetAsync("/health")).EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        await factory.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
        await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
    }

    [Fact]
    public async Task Publishes_the_messages_of_each_conversation_in_the_order_they_were_enqueued_and_each_once()
    {
        const int perConversation = 10;
        var conversations = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToList();
        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            // Interleaved, so that one batch holds every conversation and the dispatcher publishes them side by side.
            for (var index = 0; index < perConversation; index++)
            {
                foreach (var conversation in conversations)
                {
                    await TransactionalOutbox.EnqueueAsync(connection, transaction, new OutboxOrderProbe { Conversation = conversation, Index = index },
                        correlation: new OutboxCorrelation { ConversationId = conversation });
                }
            }
            await transaction.CommitAsync();
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (confirmed.Confirmed.Count < conversations.Count * perConversation && DateTime.UtcNow < deadline) await Task.Delay(100);

        var published = confirmed.Confirmed.ToList();
        published.Should().HaveCount(conversations.Count * perConversation);
        foreach (var conversation in conversations)
        {
            published.Where(p => p.Conversation == conversation).Select(p => p.Index).Should()
                .Equal(Enumerable.Range(0, perConversation), "a conversation's messages go out one after the other, in enqueue order");
        }
    }
}
