namespace MetricAlignment.Bench.Tests;

/// <summary>
/// Each benchmark at a tiny size (seconds), against the real services, PostgreSQL and RabbitMQ: it completes and
/// produces its figures. No timing is asserted; the point is that the benchmarks keep working as the code changes.
/// One class, so the benchmarks run one after another and do not compete for the machine.
/// </summary>
public sealed class BenchmarkSmokeTests
{
    readonly Report report = new(TextWriter.Null);

    [Fact]
    public async Task Import_benchmark_reports_the_import_time_beside_a_binary_copy_of_the_same_rows()
    {
        await ImportBenchmark.RunAsync(Scale.Smoke, report);

        var time = report.Figures.Single(f => f.Name.StartsWith("300 rows", StringComparison.Ordinal));
        time.Value.Should().BePositive();
        time.Reference.Should().BePositive();
        time.Verdict.Should().BeOneOf("met", "NOT met");
        report.Figures.Should().Contain(f => f.Name.Contains("peak resident") && f.Value > 0);
    }

    [Fact]
    public async Task Phases_benchmark_streams_every_row_and_reports_the_worker_memory()
    {
        // It throws when the stream carries fewer rows than were imported.
        await PhasesBenchmark.RunAsync(Scale.Smoke, report);

        report.Figures.Should().Contain(f => f.Benchmark == PhasesBenchmark.Name && f.Reference > 0 && f.Value > 0);
        report.Figures.Should().Contain(f => f.Name.StartsWith("worker peak resident set", StringComparison.Ordinal) && f.Value > 0);
        report.Figures.Should().Contain(f => f.Name.StartsWith("worker peak GC heap", StringComparison.Ordinal) && f.Value > 0);
    }

    [Fact]
    public async Task Saga_benchmark_aligns_every_run_with_one_and_with_two_instances()
    {
        await SagaBenchmark.RunAsync(Scale.Smoke, report);

        var losses = report.Figures.Where(f => f.Name.StartsWith("lost or stuck", StringComparison.Ordinal)).ToList();
        losses.Should().HaveCount(2);
        losses.Should().OnlyContain(f => f.Value == 0);
        report.Figures.Where(f => f.Name.Contains("runs to aligned")).Should().HaveCount(2).And.OnlyContain(f => f.Reference > 0);
    }

    [Fact]
    public async Task Api_benchmark_reports_percentiles_without_errors()
    {
        await ApiBenchmark.RunAsync(Scale.Smoke, report);

        var p99 = report.Figures.Single(f => f.Name.StartsWith("p99 at 50 rps", StringComparison.Ordinal));
        p99.Value.Should().BePositive();
        p99.Reference.Should().BePositive();
        p99.Note.Should().Contain(", 0 errors");
    }

    [Fact]
    public async Task Llm_benchmark_spends_tokens_within_the_run_budget()
    {
        await LlmBenchmark.RunAsync(Scale.Smoke, report);

        var tokens = report.Figures.Single(f => f.Name.EndsWith("tokens used", StringComparison.Ordinal));
        tokens.Value.Should().BePositive().And.BeLessThanOrEqualTo(LlmBenchmark.TokenBudget);
        report.Figures.Should().Contain(f => f.Name.EndsWith("wall time", StringComparison.Ordinal) && f.Reference > 0);
    }

    [Fact]
    public void A_figure_over_its_target_ratio_is_reported_as_not_met()
    {
        var figure = new Figure("import", "rows", 3, "s") { Reference = 1, TargetRatio = 2 };

        figure.Ratio.Should().Be(3);
        figure.Verdict.Should().Be("NOT met");
        var table = new Report(TextWriter.Null);
        table.Add(figure);
        table.Markdown().Should().Contain("| import | rows | 3.00 s | 1.00 s | 3.00x | <= 2x | NOT met |");
    }
}
