using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using MassTransit;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.Observability.Tests;

public sealed record QueueProbe
{
    public required Guid Id { get; init; }
}

public sealed class QueueProbeConsumer : IConsumer<QueueProbe>
{
    public Task Consume(ConsumeContext<QueueProbe> context) => Task.CompletedTask;
}

/// <summary>Stands for the Alignment service's per-instance cancellation listener: a temporary fan-out endpoint.</summary>
public sealed class QueueProbeFanOutConsumer : IConsumer<QueueProbe>
{
    public Task Consume(ConsumeContext<QueueProbe> context) => Task.CompletedTask;
}

/// <summary>Queue types as the real broker declares them, read back from its management API.</summary>
public sealed class Quorum_queues
{
    [Fact]
    public async Task With_the_flag_a_consumer_endpoint_is_a_quorum_queue_and_a_temporary_endpoint_stays_classic()
    {
        var queues = await DeclaredQueuesAsync(quorumQueues: true);

        Type(queues, "queue-probe").Should().Be("quorum");
        var fanOut = queues.Single(q => ((string)q["name"]!).StartsWith("queue-probe-fan-out-", StringComparison.Ordinal));
        ((string?)fanOut["type"]).Should().Be("classic");
        fanOut["exclusive"]!.GetValue<bool>().Should().BeTrue("a temporary endpoint belongs to its instance alone");
    }

    [Fact]
    public async Task Without_the_flag_a_consumer_endpoint_is_a_classic_queue()
    {
        var queues = await DeclaredQueuesAsync(quorumQueues: false);

        Type(queues, "queue-probe").Should().Be("classic");
    }

    static string? Type(IReadOnlyList<JsonNode> queues, string name)
    {
        var queue = queues.SingleOrDefault(q => (string?)q["name"] == name);
        queue.Should().NotBeNull($"a queue named {name} is declared; found {string.Join(", ", queues.Select(q => (string?)q["name"]))}");
        return (string?)queue!["type"];
    }

    /// <summary>Starts a bus through AddMessageBus on a fresh vhost and lists the queues it declared.</summary>
    static async Task<IReadOnlyList<JsonNode>> DeclaredQueuesAsync(bool quorumQueues)
    {
        var virtualHost = await TestInfrastructure.CreateVirtualHostAsync("quorum");
        try
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Configuration["ConnectionStrings:messaging"] = virtualHost;
            builder.Configuration[MessagingExtensions.QuorumQueuesKey] = quorumQueues ? "true" : "false";
            builder.AddMessageBus(bus =>
            {
                bus.AddConsumer<QueueProbeConsumer>();
                bus.AddConsumer<QueueProbeFanOutConsumer>().Endpoint(endpoint =>
                {
                    endpoint.Temporary = true;
                    endpoint.InstanceId = Guid.NewGuid().ToString("N")[..12];
                });
            });
            using var host = builder.Build();
            await host.StartAsync();
            try
            {
                return await ListQueuesAsync(new Uri(virtualHost));
            }
            finally
            {
                await host.StopAsync();
            }
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(virtualHost);
        }
    }

    static async Task<IReadOnlyList<JsonNode>> ListQueuesAsync(Uri broker)
    {
        var vhost = Uri.UnescapeDataString(broker.AbsolutePath.Trim('/'));
        using var http = new HttpClient { BaseAddress = new Uri(TestInfrastructure.RabbitMqManagementUrl.TrimEnd('/') + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(broker.UserInfo))));
        var queues = await http.GetFromJsonAsync<JsonArray>($"api/queues/{Uri.EscapeDataString(vhost)}");
        return queues!.Select(q => q!).ToList();
    }
}
