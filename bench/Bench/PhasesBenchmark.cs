using System.Diagnostics;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.TestSupport;
using Npgsql;

namespace MetricAlignment.Bench;

/// <summary>
/// Benchmark 2: phases 1-2 of a run (stream the resolved rows of ten evaluations as NDJSON through the Alignment
/// service's AnnotationsClient and fold them with its DisagreementAnalyzer) against `COPY (SELECT the same rows) TO
/// STDOUT` read to the end. The client and analyzer run in this process, which plays the Alignment worker: its peak
/// resident set is the worker's memory for the phase.
/// </summary>
public static class PhasesBenchmark
{
    public const string Name = "phases 1-2";
    const int Evaluations = 10;

    public static async Task RunAsync(Scale scale, Report report, int? rowsOverride = null)
    {
        foreach (var rows in rowsOverride is { } only ? [only] : scale.PhaseRows)
            await RunAsync(rows, scale.Repetitions, report);
    }

    static async Task RunAsync(int rows, int repetitions, Report report)
    {
        if (rows >= 500_000) repetitions = 1;
        await using var stack = await ServiceStack.StartAsync(alignmentInstances: 0);
        using var annotationsHttp = Measure.Client(stack.Annotations.Address);
        var ids = new List<Guid>();
        var perEvaluation = Math.Max(1, rows / Evaluations);
        for (var i = 0; i < Evaluations; i++)
            ids.Add(await Measure.ImportAsync(annotationsHttp, $"phases-{i}", perEvaluation, seed: 100 + i));
        var total = perEvaluation * Evaluations;
        await using (var vacuum = new NpgsqlConnection(stack.AnnotationsDatabase))
        {
            await vacuum.OpenAsync();
            await using var command = new NpgsqlCommand("VACUUM ANALYZE", vacuum);
            await command.ExecuteNonQueryAsync();
        }

        using var metricsHttp = Measure.Client(stack.Metrics.Address);
        var metric = (await new MetricsClient(metricsHttp).GetMetricAsync(TestTokens.Workspace, RowGenerator.MetricId, CancellationToken.None))!.ToDefinition();
        var client = new AnnotationsClient(annotationsHttp);

        // Warm-up: JIT of both paths on the first evaluation.
        await AnalyseAsync(client, metric, ids.Take(1).ToList());
        await CopyOutAsync(stack.AnnotationsDatabase, ids.Take(1).ToList());

        var service = new List<double>();
        var reference = new List<double>();
        long peakResident = 0, peakHeap = 0;
        var resetWorked = true;
        for (var turn = 0; turn < repetitions; turn++)
        {
            reference.Add((await Measure.TimeAsync(() => CopyOutAsync(stack.AnnotationsDatabase, ids))).TotalSeconds);
            GC.Collect();
            resetWorked &= Measure.ResetOwnPeak();
            var watch = Stopwatch.StartNew();
            var (seen, heap) = await AnalyseAsync(client, metric, ids);
            service.Add(watch.Elapsed.TotalSeconds);
            if (seen != total) throw new InvalidOperationException($"The stream carried {seen} rows instead of {total}.");
            peakHeap = Math.Max(peakHeap, heap);
            peakResident = Math.Max(peakResident, Measure.OwnPeakResidentBytes);
        }

        report.Add(new Figure(Name, $"{total:N0} rows in {Evaluations} evaluations, median of {repetitions}", Measure.Median(service), "s")
        {
            Reference = Measure.Median(reference), ReferenceName = "COPY (SELECT ...) TO STDOUT", TargetRatio = 1.5,
        });
        report.Add(new Figure(Name, $"worker peak resident set at {total:N0} rows", Measure.Megabytes(peakResident), "MB")
        {
            Note = resetWorked ? "process VmHWM reset before the phase" : "process VmHWM since start (reset unsupported)",
        });
        report.Add(new Figure(Name, $"worker peak GC heap at {total:N0} rows", Measure.Megabytes(peakHeap), "MB"));
        report.Add(new Figure(Name, $"Annotations process peak resident set ({total:N0} rows)", Measure.Megabytes(stack.Annotations.PeakResidentBytes), "MB"));
    }

    /// <summary>Phases 1-2 as the worker runs them; returns the rows seen and the largest GC heap sampled.</summary>
    static async Task<(int Rows, long PeakHeap)> AnalyseAsync(AnnotationsClient client, MetricDefinition metric, IReadOnlyList<Guid> evaluations)
    {
        var analyzer = new DisagreementAnalyzer(metric, deltaThreshold: 1);
        long peakHeap = 0;
        await foreach (var row in client.StreamResolvedRowsAsync(TestTokens.Workspace, metric.Id, evaluations, CancellationToken.None))
        {
            analyzer.Add(row);
            if (analyzer.RowsSeen % 5_000 == 0) peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
        }
        var analysis = analyzer.Complete();
        peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
        GC.KeepAlive(analysis);
        return (analyzer.RowsSeen, peakHeap);
    }

    /// <summary>The same rows, columns and order as the resolved-rows endpoint's query, copied out raw.</summary>
    static async Task<long> CopyOutAsync(string connectionString, IReadOnlyList<Guid> evaluations)
    {
        var list = string.Join(",", evaluations.Select(id => $"'{id}'"));
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        using var export = await connection.BeginTextExportAsync($"""
            COPY (
            SELECT r.id, r.evaluation_id, r.external_id, r.input_text, r.input_messages::text, r.output, r.context, r.tags::text,
                   j.score, j.label, j.explanation, j.model,
                   s.score, s.label, s.method,
                   (SELECT json_agg(json_build_object(
                               'reviewerId', a.reviewer_id, 'score', a.score, 'label', a.label,
                               'comment', a.comment, 'annotatedAt', a.updated_at) ORDER BY a.reviewer_id)
                    FROM annotations a WHERE a.row_id = r.id AND a.metric_id = s.metric_id)::text
            FROM rows r
            JOIN resolutions s ON s.row_id = r.id AND s.metric_id = '{RowGenerator.MetricId}'
            LEFT JOIN judge_scores j ON j.row_id = r.id AND j.metric_id = s.metric_id
            WHERE r.evaluation_id IN ({list})
            ORDER BY r.evaluation_id, r.ordinal
            ) TO STDOUT
            """);
        var buffer = new char[1 << 16];
        long characters = 0;
        int read;
        while ((read = await export.ReadAsync(buffer, 0, buffer.Length)) > 0) characters += read;
        return characters;
    }
}
