using MetricAlignment.Alignment.Extensions;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.Tests.Persistence;

public sealed class The_outbox_migration_copy
{
    [Fact]
    public void Is_the_script_ServiceDefaults_publishes()
    {
        // Read through MigrationSource, as the service's SchemaMigrator does, so a copy left out of the embedded
        // resources fails here too rather than only at start-up.
        var copy = new MigrationSource(typeof(AlignmentServiceExtensions).Assembly).Load()
            .Should().ContainSingle(m => m.Name == "outbox").Subject;

        copy.Version.Should().Be(4);
        Normalised(copy.Sql).Should().Be(Normalised(OutboxSchema.MigrationSql));
    }

    static string Normalised(string sql) => sql.ReplaceLineEndings("\n").TrimEnd();
}
