using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MetricAlignment.TestSupport;
using RabbitMQ.Client;

namespace MetricAlignment.Contracts.Tests;

/// <summary>
/// A consumer on another platform sees only RabbitMQ and the documents: it binds its own queue to the documented
/// exchange and reads the documented JSON. MassTransit publishes, a plain RabbitMQ client consumes.
/// </summary>
public sealed class PlainRabbitMqConsumerTests : IAsyncLifetime
{
    static readonly JsonSerializerOptions ContractJson = new(JsonSerializerDefaults.Web);
    string broker = "";
    IBusControl? bus;

    public async Task InitializeAsync()
    {
        broker = await TestInfrastructure.CreateVirtualHostAsync("contracts");
        var uri = new Uri(broker);
        bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(uri.Host, (ushort)uri.Port,
            Uri.UnescapeDataString(uri.AbsolutePath.Trim('/')), host =>
            {
                var credentials = uri.UserInfo.Split(':', 2);
                host.Username(Uri.UnescapeDataString(credentials[0]));
                host.Password(Uri.UnescapeDataString(credentials[1]));
                host.PublisherConfirmation = true;
            }));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bus.StartAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (bus is not null) await bus.StopAsync();
        await TestInfrastructure.DeleteVirtualHostAsync(broker);
    }

    [Fact]
    public async Task A_plain_client_bound_to_the_documented_exchange_receives_MetricVersioned_as_documented()
    {
        var versioned = new MetricVersioned
        {
            RunId = Guid.NewGuid(),
            Workspace = "globex",
            MetricId = Guid.NewGuid(),
            MetricKey = "custom-coherence",
            PreviousVersion = 3,
            NewVersion = 4,
            AlignedVersion = 2,
            VersionedAt = new DateTimeOffset(2025, 3, 14, 9, 26, 53, 589, TimeSpan.FromHours(1)),
        };

        var (envelope, properties) = await PublishAndReceive(versioned);

        AssertMatchesDocumentedSchemas(envelope, typeof(MetricVersioned));
        properties.ContentType.Should().Be("application/vnd.masstransit+json");
        var message = envelope["message"]!.AsObject();
        message["metricKey"]!.GetValue<string>().Should().Be("custom-coherence");
        message["workspace"]!.GetValue<string>().Should().Be("globex");
        message["alignedVersion"]!.GetValue<int>().Should().Be(2);
        message["versionedAt"]!.GetValue<DateTimeOffset>().Should().Be(versioned.VersionedAt);
        message.Deserialize<MetricVersioned>(ContractJson).Should().Be(versioned);
    }

    [Fact]
    public async Task A_plain_client_bound_to_the_documented_exchange_receives_MetricForked_as_documented()
    {
        var forked = new MetricForked
        {
            RunId = Guid.NewGuid(),
            Workspace = "default",
            SourceMetricId = Guid.NewGuid(),
            SourceMetricKey = "coherence",
            SourceVersion = 1,
            NewMetricId = Guid.NewGuid(),
            NewMetricKey = "coherence-aligned",
            NewMetricName = "Coherence (aligned)",
            NewVersion = 1,
            ForkedAt = DateTimeOffset.UtcNow,
        };

        var (envelope, _) = await PublishAndReceive(forked);

        AssertMatchesDocumentedSchemas(envelope, typeof(MetricForked));
        envelope["messageType"]!.AsArray().Select(node => node!.GetValue<string>())
            .Should().Contain("urn:message:MetricAlignment.Contracts:MetricForked");
        var message = envelope["message"]!.AsObject();
        message["newMetricName"]!.GetValue<string>().Should().Be("Coherence (aligned)");
        message["workspace"]!.GetValue<string>().Should().Be("default");
        message["sourceMetricId"]!.GetValue<Guid>().Should().Be(forked.SourceMetricId);
        message.Deserialize<MetricForked>(ContractJson).Should().Be(forked);
    }

    async Task<(JsonObject Envelope, IReadOnlyBasicProperties Properties)> PublishAndReceive<T>(T message) where T : class
    {
        var exchange = ContractCatalogue.ExchangeName(typeof(T));
        var factory = new ConnectionFactory { Uri = new Uri(broker) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // Declared exactly as documented: a mismatch with MassTransit's own declaration fails with PRECONDITION_FAILED.
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        var queue = await channel.QueueDeclareAsync($"plain-consumer-{typeof(T).Name}", durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue.QueueName, exchange, routingKey: "");

        var messageId = NewId.NextGuid();
        await bus!.Publish(message, context => context.MessageId = messageId);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var delivery = await channel.BasicGetAsync(queue.QueueName, autoAck: true);
            if (delivery is not null)
            {
                var envelope = JsonNode.Parse(Encoding.UTF8.GetString(delivery.Body.Span))!.AsObject();
                envelope["messageId"]!.GetValue<Guid>().Should().Be(messageId);
                delivery.Exchange.Should().Be(exchange);
                return (envelope, delivery.BasicProperties);
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"Nothing arrived on a queue bound to {exchange} within 20 s.");
    }

    static void AssertMatchesDocumentedSchemas(JsonObject envelope, Type contract)
    {
        SchemaValidation.Validate(EventSchemas.ReadEnvelope(), envelope)
            .Should().BeEmpty($"the envelope must match docs/schemas/{EventSchemas.EnvelopeFileName}; it was {envelope.ToJsonString()}");
        SchemaValidation.Validate(EventSchemas.ReadCommitted(contract)!, envelope["message"]!)
            .Should().BeEmpty($"the message must match docs/schemas/{EventSchemas.FileName(contract)}");
    }
}
