using System.Globalization;

namespace MetricAlignment.Bench;

/// <summary>
/// bench [import|phases|saga|api|llm|all] [--scale smoke|small|full] [--rows N] [--markdown FILE]
/// Prints each figure with its physical reference measured in the same run; --markdown appends the table to FILE.
/// </summary>
public static class BenchMain
{
    public static readonly string[] Benchmarks = [ImportBenchmark.Name, "phases", SagaBenchmark.Name, ApiBenchmark.Name, LlmBenchmark.Name];

    public static async Task<int> Main(string[] args)
    {
        var which = "all";
        var scale = Scale.Small;
        int? rows = null;
        string? markdown = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--scale": scale = Scale.Parse(args[++i]); break;
                case "--rows": rows = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--markdown": markdown = args[++i]; break;
                default: which = args[i]; break;
            }
        }
        var report = new Report(Console.Out);
        var failures = await RunAsync(which, scale, report, rows);
        if (markdown is not null) await File.AppendAllTextAsync(markdown, report.Markdown());
        return failures == 0 ? 0 : 1;
    }

    /// <summary>Runs one benchmark or all of them; a benchmark that throws is reported and the others still run.</summary>
    public static async Task<int> RunAsync(string which, Scale scale, Report report, int? rows = null)
    {
        var failures = 0;
        foreach (var name in which == "all" ? Benchmarks : [which])
        {
            report.Note($"{name} ({scale.Name}) starting");
            try
            {
                await (name switch
                {
                    ImportBenchmark.Name => ImportBenchmark.RunAsync(scale, report, rows),
                    "phases" => PhasesBenchmark.RunAsync(scale, report, rows),
                    SagaBenchmark.Name => SagaBenchmark.RunAsync(scale, report, rows),
                    ApiBenchmark.Name => ApiBenchmark.RunAsync(scale, report),
                    LlmBenchmark.Name => LlmBenchmark.RunAsync(scale, report),
                    _ => throw new ArgumentException($"Unknown benchmark '{name}': use {string.Join(", ", Benchmarks)} or all."),
                });
            }
            catch (Exception e) when (e is not ArgumentException)
            {
                failures++;
                report.Note($"{name} FAILED: {e}");
            }
        }
        return failures;
    }
}
