using System.Net.Http.Headers;
using System.Text;
using Npgsql;

namespace MetricAlignment.TestSupport;

/// <summary>
/// The PostgreSQL and RabbitMQ that eng/infra.sh starts. Each test fixture gets a database and a vhost of its
/// own, so test classes run in parallel without seeing each other's data or messages.
/// </summary>
public static class TestInfrastructure
{
    // The same defaults as eng/infra.sh, so a test run from an IDE works after `eng/infra.sh up`.
    public static string PostgresAdminConnectionString =>
        Environment.GetEnvironmentVariable("MA_PG_ADMIN")
        ?? "Host=127.0.0.1;Port=54329;Database=postgres;Username=alignment;Password=alignment-dev-pw";

    public static string RabbitMqManagementUrl =>
        Environment.GetEnvironmentVariable("MA_RMQ_MANAGEMENT") ?? "http://127.0.0.1:35673";

    public static Uri RabbitMqBaseUri =>
        new(Environment.GetEnvironmentVariable("ConnectionStrings__messaging") ?? "amqp://alignment:alignment-dev-pw@127.0.0.1:35672/alignment");

    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"t_{prefix}_{Guid.NewGuid():N}"[..Math.Min(60, prefix.Length + 35)].ToLowerInvariant();
        await using var connection = new NpgsqlConnection(PostgresAdminConnectionString);
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection))
            await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(PostgresAdminConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        // Dropping races with the other fixtures creating and dropping their databases at the same time (shared catalogue
        // locks), which PostgreSQL occasionally answers with an error. A test database left behind costs nothing, while a
        // cleanup failure fails the whole test run: retry, then leave it.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = new NpgsqlConnection(PostgresAdminConnectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
                await command.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException exception) when (attempt < 5)
            {
                Console.Error.WriteLine($"[test infrastructure] dropping {name} failed ({exception.SqlState}: {exception.MessageText}); retrying");
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
            catch (PostgresException exception)
            {
                Console.Error.WriteLine($"[test infrastructure] left database {name} behind: {exception.SqlState}: {exception.MessageText}");
                return;
            }
        }
    }

    /// <summary>A fresh vhost on the test broker; returns its amqp:// connection string.</summary>
    public static async Task<string> CreateVirtualHostAsync(string prefix)
    {
        var vhost = $"t-{prefix}-{Guid.NewGuid():N}".ToLowerInvariant();
        var (user, password) = Credentials();
        using var http = ManagementClient(user, password);
        (await http.PutAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}", new StringContent("{}", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var permissions = """{"configure":".*","write":".*","read":".*"}""";
        (await http.PutAsync($"api/permissions/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(user)}",
            new StringContent(permissions, Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var b = RabbitMqBaseUri;
        return $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@{b.Host}:{b.Port}/{Uri.EscapeDataString(vhost)}";
    }

    public static async Task DeleteVirtualHostAsync(string connectionString)
    {
        var vhost = Uri.UnescapeDataString(new Uri(connectionString).AbsolutePath.Trim('/'));
        var (user, password) = Credentials();
        using var http = ManagementClient(user, password);
        await http.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}");
    }

    static (string User, string Password) Credentials()
    {
        var parts = RabbitMqBaseUri.UserInfo.Split(':', 2);
        return (Uri.UnescapeDataString(parts[0]), Uri.UnescapeDataString(parts[1]));
    }

    static HttpClient ManagementClient(string user, string password)
    {
        var http = new HttpClient { BaseAddress = new Uri(RabbitMqManagementUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return http;
    }
}
