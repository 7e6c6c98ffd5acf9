using Dapper;
using MetricAlignment.Metrics.Catalogue;
using MetricAlignment.Metrics.Data;
using MetricAlignment.Metrics.Extensions;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MetricAlignment.Metrics.Tests;

/// <summary>What two replicas starting at the same moment do to a fresh database.</summary>
public sealed class SchemaAndSeedingTests : IAsyncLifetime
{
    string connectionString = "";
    readonly List<NpgsqlDataSource> dataSources = [];

    public async Task InitializeAsync() => connectionString = await TestInfrastructure.CreateDatabaseAsync("metrics_schema");

    public async Task DisposeAsync()
    {
        foreach (var dataSource in dataSources) await dataSource.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(connectionString);
    }

    NpgsqlDataSource NewDataSource()
    {
        var dataSource = NpgsqlDataSource.Create(connectionString);
        dataSources.Add(dataSource);
        return dataSource;
    }

    SchemaMigrator NewMigrator() =>
        new(NewDataSource(), new MigrationSource(typeof(MetricsServiceExtensions).Assembly), NullLogger<SchemaMigrator>.Instance);

    CatalogueSeeder NewSeeder()
    {
        var dataSource = NewDataSource();
        return new CatalogueSeeder(dataSource, new MetricStore(dataSource), NullLogger<CatalogueSeeder>.Instance);
    }

    [Fact]
    public async Task Two_migrators_at_once_apply_each_migration_once()
    {
        var expected = new MigrationSource(typeof(MetricsServiceExtensions).Assembly).Load();

        await Task.WhenAll(NewMigrator().MigrateAsync(CancellationToken.None), NewMigrator().MigrateAsync(CancellationToken.None));

        await using var connection = await NewDataSource().OpenConnectionAsync();
        var applied = (await connection.QueryAsync<int>("SELECT version FROM schema_migrations ORDER BY version")).ToList();
        applied.Should().Equal(expected.Select(m => m.Version));
        (await connection.ExecuteScalarAsync<bool>("SELECT to_regclass('alignment_run_changes') IS NOT NULL")).Should().BeTrue();
    }

    [Fact]
    public async Task Two_seeders_at_once_seed_the_catalogue_once_and_a_restart_adds_nothing()
    {
        await NewMigrator().MigrateAsync(CancellationToken.None);

        await Task.WhenAll(NewSeeder().SeedAsync(CancellationToken.None), NewSeeder().SeedAsync(CancellationToken.None));
        await NewSeeder().SeedAsync(CancellationToken.None);

        await using var connection = await NewDataSource().OpenConnectionAsync();
        (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM metrics WHERE kind = 'built_in'")).Should().Be(BuiltInCatalogue.All.Count);
        (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM metric_versions")).Should().Be(BuiltInCatalogue.All.Count);
    }

    [Fact]
    public async Task A_release_that_changes_a_built_in_prompt_publishes_it_as_the_next_version()
    {
        await NewMigrator().MigrateAsync(CancellationToken.None);
        var dataSource = NewDataSource();
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            // Simulates a database seeded by an earlier release whose helpfulness prompt differed.
            await connection.ExecuteAsync("""
                INSERT INTO metrics (id, key, name, description, kind, type, scope, scale_min, scale_max, current_version)
                VALUES (@id, 'helpfulness', 'Helpfulness', 'old', 'built_in', 'quantitative', 'turn', 1, 5, 1);
                INSERT INTO metric_versions (metric_id, version, system_prompt, user_prompt_template, created_by_kind, created_by_author, change_note)
                VALUES (@id, 1, 'old system prompt', 'old {{output}}', 'seed', 'metrics-service', 'Built-in catalogue.');
                """, new { id = BuiltInCatalogue.Helpfulness.Id });
        }

        await NewSeeder().SeedAsync(CancellationToken.None);

        var store = new MetricStore(dataSource);
        var helpfulness = (await store.FindAsync(TestTokens.Workspace, "helpfulness", CancellationToken.None))!;
        helpfulness.CurrentVersion.Should().Be(2);
        helpfulness.Description.Should().Be(BuiltInCatalogue.Helpfulness.Description);
        (await store.FindVersionAsync(helpfulness.Id, 1, CancellationToken.None))!.SystemPrompt.Should().Be("old system prompt");
        (await store.FindVersionAsync(helpfulness.Id, 2, CancellationToken.None))!.SystemPrompt.Should().Be(BuiltInCatalogue.Helpfulness.SystemPrompt);
    }

    [Fact]
    public async Task Stored_versions_cannot_be_rewritten()
    {
        await NewMigrator().MigrateAsync(CancellationToken.None);
        await NewSeeder().SeedAsync(CancellationToken.None);
        await using var connection = await NewDataSource().OpenConnectionAsync();

        var rewrite = () => connection.ExecuteAsync("UPDATE metric_versions SET system_prompt = 'tampered'");

        await rewrite.Should().ThrowAsync<PostgresException>().WithMessage("*immutable*");
    }

    [Fact]
    public async Task Custom_metrics_made_before_workspaces_move_to_the_default_workspace_and_built_ins_stay_shared()
    {
        var migrations = new MigrationSource(typeof(MetricsServiceExtensions).Assembly).Load();
        await using var connection = await NewDataSource().OpenConnectionAsync();
        await connection.ExecuteAsync(migrations.Single(m => m.Version == 1).Sql);
        var custom = Guid.NewGuid();
        await connection.ExecuteAsync("""
            BEGIN;
            INSERT INTO metrics (id, key, name, description, kind, type, scope, scale_min, scale_max, current_version)
            VALUES (@builtIn, 'helpfulness', 'Helpfulness', '', 'built_in', 'quantitative', 'turn', 1, 5, 1),
                   (@custom, 'tone', 'Tone', '', 'custom', 'quantitative', 'turn', 1, 5, 1);
            INSERT INTO metric_versions (metric_id, version, system_prompt, user_prompt_template, created_by_kind, created_by_author, change_note)
            VALUES (@builtIn, 1, 's', '{{output}}', 'seed', 'metrics-service', 'seed'), (@custom, 1, 's', '{{output}}', 'manual', 'a', 'first');
            COMMIT;
            """, new { builtIn = BuiltInCatalogue.Helpfulness.Id, custom });

        await connection.ExecuteAsync(migrations.Single(m => m.Version == 2).Sql);

        var workspaces = (await connection.QueryAsync<(string Key, string? Workspace)>("SELECT key, workspace FROM metrics ORDER BY key")).ToList();
        workspaces.Should().Equal(("helpfulness", null), ("tone", "default"));
    }

    [Fact]
    public async Task The_database_keeps_custom_keys_unique_per_workspace_and_built_in_keys_taken_everywhere()
    {
        await NewMigrator().MigrateAsync(CancellationToken.None);
        await NewSeeder().SeedAsync(CancellationToken.None);
        var dataSource = NewDataSource();
        var store = new MetricStore(dataSource);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        Task<bool> Insert(string key, string workspace) => store.TryInsertMetricAsync(connection, transaction, new NewMetricRow(
            Guid.NewGuid(), key, key, "", "custom", workspace, "quantitative", "turn", 1, 5, null, 1, null, null), CancellationToken.None);

        (await Insert("tone", "default")).Should().BeTrue();
        (await Insert("tone", "globex")).Should().BeTrue("the same custom key may exist in two workspaces");
        (await Insert("tone", "default")).Should().BeFalse("a custom key is unique within its workspace");
        (await Insert("helpfulness", "globex")).Should().BeFalse("a built-in's key is taken in every workspace");
        await transaction.RollbackAsync();
    }
}
