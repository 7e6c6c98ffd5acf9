using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.ServiceDefaults;

public static class DatabaseExtensions
{
    /// <summary>
    /// The service's own PostgreSQL database (NpgsqlDataSource with health check and telemetry) and its versioned
    /// migration scripts, applied at start before anything else runs. Scripts are the embedded resources of
    /// <paramref name="migrationsAssembly"/> under a Migrations folder, named NNNN_description.sql.
    /// </summary>
    public static TBuilder AddServiceDatabase<TBuilder>(this TBuilder builder, string connectionName, Assembly migrationsAssembly)
        where TBuilder : IHostApplicationBuilder
    {
        Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
        builder.AddNpgsqlDataSource(connectionName);
        builder.Services.AddSingleton(new MigrationSource(migrationsAssembly));
        builder.Services.AddSingleton<SchemaMigrator>();
        // Registered before the bus, so consumers never see a schema that is not there yet.
        builder.Services.AddHostedService<SchemaMigrationService>();
        return builder;
    }
}
