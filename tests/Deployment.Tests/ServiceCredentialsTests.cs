using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MetricAlignment.TestSupport;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// The users eng/infra.sh makes for each service (`env --services`, used by the run command): a PostgreSQL role that
/// reaches only its own database, and a RabbitMQ user that reads only its own queues and cannot administer the broker.
/// </summary>
public sealed class ServiceCredentialsTests
{
    static readonly string[] Databases = ["metricsdb", "annotationsdb", "alignmentdb"];
    static readonly Lazy<IReadOnlyDictionary<string, string>> Exports = new(ReadExports);

    static IReadOnlyDictionary<string, string> ReadExports()
    {
        var result = ProcessRunner.Run("bash", [Path.Combine(RepositoryPaths.Root, "eng", "infra.sh"), "env", "--services"],
            RepositoryPaths.Root, TimeSpan.FromSeconds(30));
        result.ExitCode.Should().Be(0, result.StandardError);
        // The last export of a name wins, as it does in the shell.
        var exports = new Dictionary<string, string>();
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var assignment = line["export ".Length..];
            var equals = assignment.IndexOf('=');
            exports[assignment[..equals]] = assignment[(equals + 1)..].Trim('\'');
        }
        return exports;
    }

    static string Database(string name) => Exports.Value[$"ConnectionStrings__{name}"];
    static Uri Broker(string service) => new(Exports.Value[$"ConnectionStrings__messaging_{service.Replace('-', '_')}"]);

    [Fact]
    public async Task Each_service_role_reaches_its_own_database_and_no_other()
    {
        foreach (var own in Databases)
        {
            var credentials = new NpgsqlConnectionStringBuilder(Database(own));
            credentials.Username.Should().NotBe(new NpgsqlConnectionStringBuilder(TestInfrastructure.PostgresAdminConnectionString).Username);
            await using (var connection = new NpgsqlConnection(credentials.ConnectionString))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("CREATE TEMP TABLE probe (id int); SELECT current_user", connection);
                (await command.ExecuteScalarAsync()).Should().Be(credentials.Username);
            }
            foreach (var other in Databases.Where(d => d != own))
            {
                var foreign = new NpgsqlConnectionStringBuilder(credentials.ConnectionString) { Database = other, Pooling = false };
                await using var connection = new NpgsqlConnection(foreign.ConnectionString);
                var refused = async () => await connection.OpenAsync();
                (await refused.Should().ThrowAsync<PostgresException>($"{credentials.Username} must not reach {other}"))
                    .Which.SqlState.Should().Be(PostgresErrorCodes.InsufficientPrivilege);
            }
        }
    }

    [Fact]
    public async Task A_service_role_can_make_neither_databases_nor_roles()
    {
        await using var connection = new NpgsqlConnection(Database("metricsdb"));
        await connection.OpenAsync();
        foreach (var sql in new[] { "CREATE DATABASE probe_by_service", "CREATE ROLE probe_by_service" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var refused = async () => await command.ExecuteNonQueryAsync();
            (await refused.Should().ThrowAsync<PostgresException>(sql)).Which.SqlState.Should().Be(PostgresErrorCodes.InsufficientPrivilege);
        }
    }

    [Theory]
    [InlineData("metrics", "execute-alignment-run")]
    [InlineData("metrics", "alignment-run-state")]
    [InlineData("annotations", "create-metric-fork")]
    [InlineData("alignment", "audit-log")]
    [InlineData("audit-log", "create-metric-version")]
    public async Task A_service_cannot_read_another_services_queue(string service, string queue)
    {
        var factory = new ConnectionFactory { Uri = Broker(service) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var read = async () => await channel.BasicGetAsync(queue, autoAck: false);
        (await read.Should().ThrowAsync<OperationInterruptedException>())
            .Which.ShutdownReason!.ReplyCode.Should().Be(403, $"{service} must not read {queue}");
    }

    [Fact]
    public async Task A_service_can_declare_the_contract_exchanges_it_publishes_to()
    {
        var factory = new ConnectionFactory { Uri = Broker("metrics") };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var exchange = $"MetricAlignment.Contracts:PermissionProbe{Guid.NewGuid():N}";
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: false, autoDelete: false);
        await channel.ExchangeDeleteAsync(exchange);
    }

    [Theory]
    [InlineData("metrics")]
    [InlineData("annotations")]
    [InlineData("alignment")]
    [InlineData("audit-log")]
    public async Task A_service_broker_user_has_no_management_rights(string service)
    {
        var broker = Broker(service);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{TestInfrastructure.RabbitMqManagementUrl}/api/users");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(broker.UserInfo))));
        using var response = await http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }
}
