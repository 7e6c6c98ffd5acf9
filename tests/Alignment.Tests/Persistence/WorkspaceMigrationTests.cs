using Dapper;
using MetricAlignment.Alignment.Extensions;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MetricAlignment.Alignment.Tests.Persistence;

public sealed class Runs_stored_before_workspaces_existed : IAsyncLifetime
{
    string database = null!;
    NpgsqlDataSource dataSource = null!;

    public async Task InitializeAsync()
    {
        database = await TestInfrastructure.CreateDatabaseAsync("alignment_migrate");
        dataSource = NpgsqlDataSource.Create(database);
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(database);
    }

    [Fact]
    public async Task Belong_to_the_default_workspace_after_the_upgrade()
    {
        var migrations = new MigrationSource(typeof(AlignmentServiceExtensions).Assembly).Load();
        var runId = Guid.NewGuid();
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            // The schema as it was before workspaces: migrations up to 0002, recorded as applied, and a run written then.
            await connection.ExecuteAsync("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), checksum text)");
            foreach (var migration in migrations.Where(m => m.Version <= 2))
            {
                await connection.ExecuteAsync(migration.Sql);
                await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name, checksum) VALUES (@Version, @Name, @Checksum)",
                    new { migration.Version, migration.Name, migration.Checksum });
            }
            await connection.ExecuteAsync("""
                INSERT INTO alignment_runs (correlation_id, current_state, version, metric_id, metric_key, attempt, phase,
                                            created_at, updated_at, last_progress_at, document)
                VALUES (@runId, 'Aligned', 3, @metricId, 'faithfulness', 1, NULL, now(), now(), now(),
                        jsonb_build_object('correlationId', @runId::text, 'currentState', 'Aligned', 'metricKey', 'faithfulness'))
                """, new { runId, metricId = Guid.NewGuid() });
        }

        await new SchemaMigrator(dataSource, new MigrationSource(typeof(AlignmentServiceExtensions).Assembly), NullLogger<SchemaMigrator>.Instance)
            .MigrateAsync(CancellationToken.None);

        var run = await AlignmentRunStore.GetAsync(dataSource, AlignmentRunState.DefaultWorkspace, runId, CancellationToken.None);
        run.Should().NotBeNull();
        run!.Workspace.Should().Be("default");
        (await AlignmentRunStore.GetAsync(dataSource, TestTokens.OtherWorkspace, runId, CancellationToken.None)).Should().BeNull();
        await using var check = await dataSource.OpenConnectionAsync();
        (await check.ExecuteScalarAsync<string>("SELECT document ->> 'workspace' FROM alignment_runs WHERE correlation_id = @runId", new { runId }))
            .Should().Be("default");
    }
}
