using MetricAlignment.TestSupport;

namespace MetricAlignment.Bench;

/// <summary>
/// Benchmark 1: N annotated rows through POST /api/evaluations/import (NDJSON, streamed) against Npgsql binary COPY
/// of the same rows into tables made by the same migration. Both are measured in turns, after a warm-up.
/// </summary>
public static class ImportBenchmark
{
    public const string Name = "import";

    public static async Task RunAsync(Scale scale, Report report, int? rowsOverride = null)
    {
        var rows = rowsOverride ?? scale.ImportRows;
        // A million-row import takes minutes; one turn is enough for a figure at that size.
        var repetitions = rows >= 500_000 ? 1 : scale.Repetitions;
        await using var stack = await ServiceStack.StartAsync(alignmentInstances: 0);
        var referenceDatabase = await TestInfrastructure.CreateDatabaseAsync("bm_copy");
        try
        {
            await CopyReference.CreateSchemaAsync(referenceDatabase);
            using var http = Measure.Client(stack.Annotations.Address);
            await Measure.ImportAsync(http, "warm-up", 500, seed: 9_999);
            await CopyReference.CopyAsync(referenceDatabase, "warm-up", 500, seed: 9_999);

            var imports = new List<double>();
            var copies = new List<double>();
            for (var turn = 1; turn <= repetitions; turn++)
            {
                copies.Add((await Measure.TimeAsync(() => CopyReference.CopyAsync(referenceDatabase, $"copy-{turn}", rows, seed: turn))).TotalSeconds);
                imports.Add((await Measure.TimeAsync(() => Measure.ImportAsync(http, $"import-{turn}", rows, seed: turn))).TotalSeconds);
            }
            var import = Measure.Median(imports);
            var copy = Measure.Median(copies);
            var bytes = (double)RowGenerator.LineBytes(RowGenerator.Rows(1, 1).First());
            report.Add(new Figure(Name, $"{rows:N0} rows (~{bytes:0} B/line, 3 reviewers), median of {repetitions}", import, "s")
            {
                Reference = copy, ReferenceName = "Npgsql binary COPY", TargetRatio = 2,
            });
            report.Add(new Figure(Name, "import throughput", rows / import, "rows/s") { Reference = rows / copy, ReferenceName = "COPY" });
            report.Add(new Figure(Name, "Annotations process peak resident set", Measure.Megabytes(stack.Annotations.PeakResidentBytes), "MB"));
        }
        finally
        {
            await TestInfrastructure.DropDatabaseAsync(referenceDatabase);
        }
    }
}
