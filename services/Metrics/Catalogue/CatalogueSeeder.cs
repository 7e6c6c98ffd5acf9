using MetricAlignment.Metrics.Data;
using MetricAlignment.Metrics.Domain;
using Npgsql;

namespace MetricAlignment.Metrics.Catalogue;

/// <summary>
/// Brings the built-in metrics in the database in line with <see cref="BuiltInCatalogue"/>: inserts the missing ones
/// as version 1 and, when a release changes a built-in's prompts, publishes them as its next version (versions are
/// never rewritten). One transaction under an advisory lock, so replicas starting together seed once.
/// </summary>
public sealed class CatalogueSeeder(NpgsqlDataSource dataSource, MetricStore store, ILogger<CatalogueSeeder> logger)
{
    public const string SeedAuthor = "metrics-service";

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await store.LockCatalogueAsync(connection, transaction, cancellationToken);

        foreach (var builtIn in BuiltInCatalogue.All)
        {
            var inserted = await store.TryInsertMetricAsync(connection, transaction, new NewMetricRow(
                builtIn.Id, builtIn.Key, builtIn.Name, builtIn.Description, MetricKind.BuiltIn.ToName(), null, builtIn.Type.ToName(),
                builtIn.Scope.ToName(), builtIn.ScaleMin, builtIn.ScaleMax, builtIn.Labels?.ToArray(), 1, null, null), cancellationToken);
            if (inserted)
            {
                await store.TryInsertVersionAsync(connection, transaction, new NewVersionRow(
                    builtIn.Id, 1, builtIn.SystemPrompt, builtIn.UserPromptTemplate, VersionAuthorKind.Seed.ToName(), SeedAuthor, null,
                    "Built-in catalogue."), cancellationToken);
                logger.LogInformation("Seeded built-in metric {Key}", builtIn.Key);
                continue;
            }

            // No workspace: built-ins only, which is all the seeder owns.
            var existing = await store.FindAsync(connection, transaction, null, builtIn.Id, forUpdate: true, cancellationToken);
            if (existing is null)
            {
                // Only possible when a release adds a built-in whose key a custom metric (of any workspace) already took.
                logger.LogWarning("Built-in metric {Key} not seeded: a custom metric already uses the key", builtIn.Key);
                continue;
            }
            await store.UpdateCatalogueTextAsync(connection, transaction, existing.Id, builtIn.Name, builtIn.Description, cancellationToken);
            var current = await store.FindVersionAsync(connection, transaction, existing.Id, existing.CurrentVersion, cancellationToken);
            if (current is not null && current.SystemPrompt == builtIn.SystemPrompt && current.UserPromptTemplate == builtIn.UserPromptTemplate)
                continue;

            var next = existing.CurrentVersion + 1;
            await store.TryInsertVersionAsync(connection, transaction, new NewVersionRow(
                existing.Id, next, builtIn.SystemPrompt, builtIn.UserPromptTemplate, VersionAuthorKind.Seed.ToName(), SeedAuthor, null,
                "Built-in catalogue updated by a release of the Metrics service."), cancellationToken);
            await store.SetCurrentVersionAsync(connection, transaction, existing.Id, next, cancellationToken);
            logger.LogInformation("Published version {Version} of built-in metric {Key} from the catalogue", next, builtIn.Key);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}

/// <summary>Seeds after the schema migrations and before the bus starts (hosted services start in registration order).</summary>
internal sealed class CatalogueSeedingService(CatalogueSeeder seeder) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => seeder.SeedAsync(cancellationToken);
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
