using Dapper;
using Npgsql;

namespace MetricAlignment.TestSupport;

/// <summary>Row counts of every table of a service's database: what "nothing was written" (or "another workspace changed nothing") is checked against.</summary>
public static class DatabaseRows
{
    public static async Task<IReadOnlyDictionary<string, long>> CountAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        var tables = await connection.QueryAsync<string>("""
            SELECT format('%I.%I', table_schema, table_name)
            FROM information_schema.tables
            WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1
            """);
        var counts = new SortedDictionary<string, long>();
        // Table names come from the catalogue (quoted by format %I), never from input.
        foreach (var table in tables)
            counts[table] = await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM {table}");
        return counts;
    }
}
