using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using MetricAlignment.Annotations.Extensions;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MetricAlignment.Annotations.Tests;

/// <summary>The Annotations service on a database and broker vhost of its own, with a fake Metrics service.</summary>
public sealed class AnnotationsApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public string DatabaseConnectionString { get; private set; } = "";
    string messaging = "";

    public async Task InitializeAsync()
    {
        DatabaseConnectionString = await TestInfrastructure.CreateDatabaseAsync("annotations");
        messaging = await TestInfrastructure.CreateVirtualHostAsync("annotations");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting($"ConnectionStrings:{AnnotationsServiceExtensions.DatabaseName}", DatabaseConnectionString);
        builder.UseSetting($"ConnectionStrings:{MessagingExtensions.ConnectionName}", messaging);
        builder.ConfigureTestServices(services => services.AddSingleton<IMetricCatalog, FakeMetricCatalog>());
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(DatabaseConnectionString);
        await TestInfrastructure.DeleteVirtualHostAsync(messaging);
    }

    public async Task<long> CountAsync(string table)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        return await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM {table}");
    }

    /// <summary>The ids of the completed evaluations stored in the workspace, read from the database.</summary>
    public async Task<HashSet<Guid>> CompletedEvaluationsInAsync(string workspace)
    {
        await using var connection = new NpgsqlConnection(DatabaseConnectionString);
        return (await connection.QueryAsync<Guid>("SELECT id FROM evaluations WHERE workspace = @workspace AND status = 'completed'", new { workspace })).ToHashSet();
    }

    public async Task<(long Evaluations, long Rows, long Annotations, long Resolutions)> CountAllAsync() =>
        (await CountAsync("evaluations"), await CountAsync("rows"), await CountAsync("annotations"), await CountAsync("resolutions"));

    public static async Task<HttpResponseMessage> PostImportAsync(HttpClient client, string ndjson)
    {
        using var content = new StringContent(ndjson, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        return await client.PostAsync("/api/evaluations/import", content);
    }

    public static async Task<T> ReadAsync<T>(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<T>(Json))!;

    /// <summary>Reads an NDJSON response line by line.</summary>
    public static async Task<List<T>> ReadNdjsonAsync<T>(HttpResponseMessage response)
    {
        var items = new List<T>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
            if (line.Length > 0) items.Add(JsonSerializer.Deserialize<T>(line, Json)!);
        return items;
    }
}
