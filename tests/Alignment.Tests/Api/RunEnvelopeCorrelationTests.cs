using System.Text;
using System.Text.Json.Nodes;
using MetricAlignment.Contracts;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class The_envelope_of_a_run_event(AlignmentAppFixture app)
{
    static readonly Type[] RunEvents = [typeof(AlignmentRunQueued), typeof(AlignmentRunStarted), typeof(AlignmentRunAligned)];

    [Fact]
    public async Task Carries_the_run_id_as_its_correlation_id_for_a_plain_rabbitmq_consumer()
    {
        var broker = app.Factory.Services.GetRequiredService<IConfiguration>().GetConnectionString("messaging")!;
        var factory = new ConnectionFactory { Uri = new Uri(broker) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = await channel.QueueDeclareAsync($"plain-run-events-{Guid.NewGuid():N}", durable: false, exclusive: true, autoDelete: true);
        foreach (var type in RunEvents)
        {
            // The exchange a non-.NET consumer binds to, as docs/events.md names it.
            var exchange = $"{type.Namespace}:{type.Name}";
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueBindAsync(queue.QueueName, exchange, routingKey: "");
        }

        var (_, runId) = await app.StartAlignableRunAsync();

        var envelopes = new Dictionary<string, JsonObject>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (envelopes.Count < RunEvents.Length && DateTime.UtcNow < deadline)
        {
            var delivery = await channel.BasicGetAsync(queue.QueueName, autoAck: true);
            if (delivery is null)
            {
                await Task.Delay(100);
                continue;
            }
            var envelope = JsonNode.Parse(Encoding.UTF8.GetString(delivery.Body.Span))!.AsObject();
            if ((string?)envelope["message"]?["runId"] != runId.ToString()) continue;
            envelopes[delivery.Exchange] = envelope;
        }

        envelopes.Keys.Should().BeEquivalentTo(RunEvents.Select(t => $"{t.Namespace}:{t.Name}"));
        foreach (var (exchange, envelope) in envelopes)
            ((string?)envelope["correlationId"]).Should().Be(runId.ToString(), $"the {exchange} envelope names its run; it was {envelope.ToJsonString()}");
    }
}
