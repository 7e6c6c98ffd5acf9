using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace MetricAlignment.Outbox.Tests;

/// <summary>The broker refuses the service (its permissions on the vhost revoked, its connections closed) and then takes it back.</summary>
public sealed class Broker_outage(OutboxFixture fixture) : IClassFixture<OutboxFixture>
{
    [Fact]
    public async Task Messages_committed_during_a_broker_outage_stay_undispatched_and_go_out_once_when_the_broker_is_back()
    {
        var received = new ReceivedProbes();
        var host = await fixture.StartHostAsync(received, o =>
        {
            o.PublishTimeout = TimeSpan.FromSeconds(2);
            o.RetryMaxDelay = TimeSpan.FromSeconds(2);
        });
        var broker = new BrokerControl(fixture.MessagingConnectionString);
        try
        {
            await broker.CutOffAsync();
            var probes = Enumerable.Range(0, 3).Select(i => OutboxFixture.NewProbe($"during outage {i}")).ToList();
            var ids = new List<Guid>();
            foreach (var probe in probes) ids.Add(await fixture.ChangeAndEnqueueAsync(probe));

            await OutboxFixture.WaitUntilAsync(async () => (await fixture.OutboxRowAsync(ids[0]))!.Attempts >= 2,
                TimeSpan.FromSeconds(60), "the dispatcher tried and failed to publish at least twice");
            var first = await fixture.OutboxRowAsync(ids[0]);
            first!.DispatchedAt.Should().BeNull();
            first.LastError.Should().NotBeNullOrEmpty();
            foreach (var id in ids) (await fixture.OutboxRowAsync(id))!.DispatchedAt.Should().BeNull("the broker is unreachable");
            probes.Select(p => received.Count(p.Key)).Should().OnlyContain(count => count == 0);

            await broker.RestoreAsync();
            await received.WaitForAllAsync(probes.Select(p => p.Key).ToList(), TimeSpan.FromSeconds(90));

            probes.Select(p => received.Count(p.Key)).Should().OnlyContain(count => count == 1);
            foreach (var id in ids) (await fixture.OutboxRowAsync(id))!.DispatchedAt.Should().NotBeNull();
            (await fixture.OutboxRowAsync(ids[0]))!.LastError.Should().NotBeNullOrEmpty("the failures stay on record");
        }
        finally
        {
            await broker.RestoreAsync();
            await OutboxFixture.StopAsync(host);
        }
    }
}

/// <summary>RabbitMQ's management API, to take a vhost away from the test user and give it back.</summary>
sealed class BrokerControl(string amqpConnectionString)
{
    readonly Uri broker = new(amqpConnectionString);

    string VirtualHost => Uri.EscapeDataString(Uri.UnescapeDataString(broker.AbsolutePath.Trim('/')));
    string User => Uri.EscapeDataString(Uri.UnescapeDataString(broker.UserInfo.Split(':', 2)[0]));

    public async Task CutOffAsync()
    {
        using var http = Client();
        (await http.DeleteAsync($"api/permissions/{VirtualHost}/{User}")).EnsureSuccessStatusCode();
        // Revoking does not end what is already open; closing the connections does, and reconnecting is now refused.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var connections = await http.GetFromJsonAsync<JsonArray>($"api/vhosts/{VirtualHost}/connections") ?? [];
            if (connections.Count == 0) return;
            foreach (var connection in connections)
                await http.DeleteAsync($"api/connections/{Uri.EscapeDataString((string)connection!["name"]!)}");
            await Task.Delay(500);
        }
        throw new TimeoutException("The service's broker connections did not close.");
    }

    public async Task RestoreAsync()
    {
        using var http = Client();
        (await http.PutAsync($"api/permissions/{VirtualHost}/{User}",
            new StringContent("""{"configure":".*","write":".*","read":".*"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
    }

    HttpClient Client()
    {
        var http = new HttpClient
        {
            BaseAddress = new Uri(TestSupport.TestInfrastructure.RabbitMqManagementUrl.TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(broker.UserInfo))));
        return http;
    }
}
