using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MetricAlignment.Bench;

/// <summary>The reference message: what MassTransit alone carries, with no saga behind it.</summary>
public sealed record BenchPing
{
    public required Guid Id { get; init; }
    public required int Index { get; init; }
}

public sealed class PingCounter
{
    int consumed;
    public TaskCompletionSource AllConsumed { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Expected { get; private set; }

    public void Expect(int count)
    {
        consumed = 0;
        Expected = count;
        AllConsumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Consumed()
    {
        if (Interlocked.Increment(ref consumed) == Expected) AllConsumed.TrySetResult();
    }
}

public sealed class BenchPingConsumer(PingCounter counter) : IConsumer<BenchPing>
{
    public Task Consume(ConsumeContext<BenchPing> context)
    {
        counter.Consumed();
        return Task.CompletedTask;
    }
}

/// <summary>
/// Benchmark 3: K alignment runs started at once (builtin distiller, small evaluation) until every one is aligned,
/// against MassTransit publishing and consuming, on the same broker with no saga, as many messages as those runs put
/// through the broker (counted on the stack's vhost by the management API). Then with two Alignment instances.
/// Service and reference are measured in turns, never at the same time.
/// </summary>
public static class SagaBenchmark
{
    public const string Name = "saga";

    /// <summary>The queue of the worker's ExecuteAlignmentRun consumer (kebab-case endpoint name).</summary>
    public const string WorkerQueue = "execute-alignment-run";

    public static async Task RunAsync(Scale scale, Report report, int? runsOverride = null)
    {
        var runs = runsOverride ?? scale.SagaRuns;
        foreach (var instances in new[] { 1, 2 })
        {
            await using var stack = await ServiceStack.StartAsync(instances);
            using var broker = BrokerStatistics.ForStack(stack);
            var outcome = await RunManyAsync(stack, runs, scale.SagaRowsPerEvaluation, Deadline(runs), broker);
            var window = outcome.Window!;

            // The like-for-like reference: as many messages as the runs published (at least one per run).
            var published = window.Published;
            var sameMessages = (int)Math.Max(runs, published);
            var reference = await MassTransitReferenceAsync(sameMessages);
            var perRunReference = (await MassTransitReferenceAsync(runs)).Elapsed;
            var perRun = published / (double)Math.Max(1, outcome.RunIds.Count);
            report.Add(new Figure(Name, $"{runs:N0} runs to aligned, {instances} Alignment instance(s)", outcome.Elapsed.TotalSeconds, "s")
            {
                Reference = reference.Elapsed.TotalSeconds, TargetRatio = 3,
                ReferenceName = $"MassTransit {sameMessages:N0} messages (= the runs' {perRun:0.#} per run), no saga",
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"{runs / outcome.Elapsed.TotalSeconds:0.0} runs/s; broker: {published:N0} published, {window.Delivered:N0} delivered in the window"),
            });
            // The earlier reference (one message per run), kept for comparison with the figures measured before.
            report.Add(new Figure(Name, $"same {instances}-instance figure against one message per run", outcome.Elapsed.TotalSeconds, "s")
            {
                Reference = perRunReference.TotalSeconds, ReferenceName = $"MassTransit {runs:N0} messages, no saga",
            });
            report.Add(new Figure(Name, $"lost or stuck runs, {instances} instance(s)", outcome.Lost + outcome.Stuck, "runs")
            {
                TargetMax = 1, Note = $"{outcome.Aligned} aligned, {outcome.Lost} lost, {outcome.Stuck} stuck, {outcome.Failed} error",
            });
            report.Note(string.Create(CultureInfo.InvariantCulture,
                $"saga {instances} instance(s): the same batch on just-started services (the warm-up, not measured): {outcome.ColdRuns:N0} runs settled in {outcome.ColdElapsed.TotalSeconds:0.0} s"));
            report.Note($"saga {instances} instance(s): {window.Describe(stack, runs)}");
            report.Note($"saga {instances} instance(s), the reference: {reference.Describe(sameMessages)}; "
                + string.Create(CultureInfo.InvariantCulture,
                    $"a run cost the machine {window.Cpu.MachineBusySeconds / runs * 1000:0.0} ms, as much as {window.Cpu.MachineBusySeconds / runs / (reference.MachineBusySeconds / sameMessages):0} reference messages"));
            foreach (var (reason, count) in StartFailures) report.Note($"saga {instances} instance(s): {count} start(s) refused: {reason}");
            StartFailures.Clear();
        }
    }

    static TimeSpan Deadline(int runs) => TimeSpan.FromSeconds(Math.Max(60, runs * 1.0));

    /// <summary>The warm-up is the measured batch itself, run once before it is measured.</summary>
    public static int WarmUpRuns(int runs) => runs;

    /// <summary>Per instance: past both tiering thresholds (30 + 30 calls) once the runtime counts calls.</summary>
    const int SecondWarmUpRuns = 100;

    static async Task<List<Guid>> StartAllAsync(IReadOnlyList<HttpClient> clients, Guid evaluationId, int runs) =>
        (await Task.WhenAll(Enumerable.Range(0, runs).Select(i => StartAsync(clients[i % clients.Count], evaluationId))))
            .Where(id => id is not null).Select(id => id!.Value).ToList();

    public sealed record Outcome(TimeSpan Elapsed, int Aligned, int Lost, int Stuck, int Failed, IReadOnlyList<Guid> RunIds, Guid EvaluationId)
    {
        /// <summary>What the broker and the machine did in the measured window, when the caller asked for it.</summary>
        public WindowStatistics? Window { get; init; }

        /// <summary>The same batch run first, on services that had just started (JIT, pools): the warm-up, timed.</summary>
        public TimeSpan ColdElapsed { get; init; }
        public int ColdRuns { get; init; }
    }

    /// <summary>
    /// Imports one small evaluation, starts <paramref name="runs"/> runs at once, waits until all are settled. With
    /// <paramref name="broker"/>, also counts the messages of the measured window (from after the warm-up run to when the
    /// last run's messages have gone through) and the CPU the processes used in it.
    /// </summary>
    public static async Task<Outcome> RunManyAsync(ServiceStack stack, int runs, int rowsPerEvaluation, TimeSpan deadline,
        BrokerStatistics? broker = null)
    {
        using var annotations = Measure.Client(stack.Annotations.Address);
        var evaluationId = await Measure.ImportAsync(annotations, "saga", rowsPerEvaluation, seed: 7);
        var clients = stack.Alignment.Select(a => Measure.Client(a.Address, maxConnections: 1_024)).ToList();
        var workers = stack.Alignment.Select(a => a.ProcessId).ToList();
        try
        {
            // Warm-up: JIT, connection pools, endpoints. A method runs unoptimised until it has been called 30 times,
            // then instrumented for another 30 (tiered PGO), then is recompiled optimised in the background; and the
            // runtime starts counting a method's calls only once no new method has been compiled for 100 ms, which
            // under a flood of starts is not before the flood ends. A large service has thousands of such methods
            // (MassTransit, Npgsql, ASP.NET Core, Polly, the token handler): with 1, 20 and 100 warm-up runs the measured
            // window still spent most of the Alignment process's CPU in the JIT (dotnet-counters: 1.1-1.8 s of every
            // 2 s), recompiling ~6,000 distinct methods in 18 s (a JIT event trace), and after one whole batch still
            // ~1,300 in 10 s, mostly the token handler's. So the whole batch runs once, exactly as it is then measured
            // (timed: the cold figure), then, after a pause in which the counting starts, a second smaller one; the
            // broker's settling below gives the background compiler time to finish.
            var cold = Stopwatch.StartNew();
            var warmUp = await StartAllAsync(clients, evaluationId, WarmUpRuns(runs));
            if (warmUp.Count > 0) await WaitAsync(stack.AlignmentDatabase, warmUp, Deadline(warmUp.Count));
            var coldElapsed = cold.Elapsed;
            await Task.Delay(TimeSpan.FromSeconds(3));
            var secondWarmUp = await StartAllAsync(clients, evaluationId, Math.Min(runs, SecondWarmUpRuns * clients.Count));
            if (secondWarmUp.Count > 0) await WaitAsync(stack.AlignmentDatabase, secondWarmUp, Deadline(secondWarmUp.Count));
            StartFailures.Clear();
            // The warm-up's last messages (and the broker's statistics, sampled every few seconds) settle before counting.
            var before = broker is null ? null : await broker.SettledAsync(workers);
            var cpuBefore = CpuSample.Take(stack);

            var windowStart = DateTimeOffset.UtcNow;
            var watch = Stopwatch.StartNew();
            var ids = await StartAllAsync(clients, evaluationId, runs);
            var states = await WaitAsync(stack.AlignmentDatabase, ids, deadline);
            var elapsed = watch.Elapsed;
            var cpuAfter = CpuSample.Take(stack);
            var aligned = states.Count(s => s.Value == "Aligned");
            var failed = states.Count(s => s.Value == "Error");
            var lost = runs - ids.Count + ids.Count(id => !states.ContainsKey(id));
            var stuck = states.Count(s => s.Value is not ("Aligned" or "Error"));
            WindowStatistics? window = null;
            if (broker is not null)
            {
                // Messages the runs still publish once their row says Aligned (the outbox's AlignmentRunAligned) count too.
                var after = await broker.SettledAsync(workers);
                window = new WindowStatistics(after.Published - before!.Published, after.Delivered - before.Delivered,
                    workers.Select(pid => after.WorkerDeliveries.GetValueOrDefault(pid) - before.WorkerDeliveries.GetValueOrDefault(pid)).ToList(),
                    cpuAfter.Minus(cpuBefore), elapsed)
                {
                    Latency = await RunLatency.ReadAsync(stack.AlignmentDatabase, ids, windowStart),
                };
            }
            return new Outcome(elapsed, aligned, lost, stuck, failed, ids, evaluationId) { Window = window, ColdElapsed = coldElapsed, ColdRuns = warmUp.Count };
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    /// <summary>Why starts were refused in this process (status code or exception), printed with a failed pass.</summary>
    public static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> StartFailures = new(StringComparer.Ordinal);

    static async Task<Guid?> StartAsync(HttpClient alignment, Guid evaluationId)
    {
        try
        {
            using var response = await alignment.PostAsJsonAsync("api/alignment-runs",
                new { metricId = RowGenerator.MetricId, evaluationIds = new[] { evaluationId }, reflectionProvider = "builtin" });
            if (response.StatusCode == HttpStatusCode.Accepted)
                return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            var body = await response.Content.ReadAsStringAsync();
            StartFailures.AddOrUpdate($"{(int)response.StatusCode}: {body[..Math.Min(200, body.Length)]}", 1, (_, n) => n + 1);
            return null;
        }
        catch (HttpRequestException e)
        {
            StartFailures.AddOrUpdate($"{e.GetType().Name}: {e.Message}", 1, (_, n) => n + 1);
            return null;
        }
    }

    /// <summary>Polls the saga table until every run is aligned or in error, or the deadline passes; returns the states.</summary>
    static async Task<Dictionary<Guid, string>> WaitAsync(string alignmentDatabase, IReadOnlyList<Guid> ids, TimeSpan deadline)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(alignmentDatabase);
        await connection.OpenAsync();
        while (true)
        {
            var states = new Dictionary<Guid, string>();
            await using (var command = new NpgsqlCommand("SELECT correlation_id, current_state FROM alignment_runs WHERE correlation_id = ANY(@ids)", connection))
            {
                command.Parameters.AddWithValue("ids", ids.ToArray());
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) states[reader.GetGuid(0)] = reader.GetString(1);
            }
            if (states.Count == ids.Count && states.Values.All(s => s is "Aligned" or "Error")) return states;
            if (watch.Elapsed > deadline) return states;
            await Task.Delay(100);
        }
    }

    /// <summary>What the reference took: its time, and the CPU the machine and the broker spent on it.</summary>
    public sealed record Reference(TimeSpan Elapsed, double MachineBusySeconds, double RabbitMqSeconds)
    {
        public string Describe(int messages) => string.Create(CultureInfo.InvariantCulture,
            $"{messages:N0} messages in {Elapsed.TotalSeconds:0.00} s, machine CPU {MachineBusySeconds:0.0} s ({MachineBusySeconds / messages * 1000:0.00} ms per message), "
            + $"RabbitMQ {RabbitMqSeconds:0.0} s ({RabbitMqSeconds / messages * 1000:0.00} ms per message)");
    }

    /// <summary>K persistent messages published at once and consumed, with MassTransit's defaults, on a fresh vhost.</summary>
    public static async Task<Reference> MassTransitReferenceAsync(int messages)
    {
        var vhost = await TestInfrastructure.CreateVirtualHostAsync("bench-mt");
        try
        {
            var broker = new Uri(vhost);
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton<PingCounter>();
            services.AddMassTransit(bus =>
            {
                bus.ConfigureUsageTelemetryOptions(options => options.Enabled = false);
                bus.AddConsumer<BenchPingConsumer>();
                bus.UsingRabbitMq((context, cfg) =>
                {
                    var credentials = broker.UserInfo.Split(':', 2);
                    cfg.Host(broker.Host, (ushort)broker.Port, Uri.UnescapeDataString(broker.AbsolutePath.Trim('/')), host =>
                    {
                        host.Username(Uri.UnescapeDataString(credentials[0]));
                        host.Password(Uri.UnescapeDataString(credentials[1]));
                        host.PublisherConfirmation = true;
                    });
                    cfg.ConfigureEndpoints(context);
                });
            });
            await using var provider = services.BuildServiceProvider();
            var busControl = provider.GetRequiredService<IBusControl>();
            await busControl.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            try
            {
                var counter = provider.GetRequiredService<PingCounter>();
                // Warmed up like the services: past the JIT's tiering thresholds.
                await PublishAndConsumeAsync(busControl, counter, Math.Min(messages, 1_000));
                var (machineBefore, rabbitBefore) = (CpuSample.MachineBusy(), CpuSample.CommandSeconds(CpuSample.RabbitMqCommand));
                var elapsed = await PublishAndConsumeAsync(busControl, counter, messages);
                return new Reference(elapsed, CpuSample.MachineBusy() - machineBefore, CpuSample.CommandSeconds(CpuSample.RabbitMqCommand) - rabbitBefore);
            }
            finally
            {
                await busControl.StopAsync();
            }
        }
        finally
        {
            await TestInfrastructure.DeleteVirtualHostAsync(vhost);
        }
    }

    static async Task<TimeSpan> PublishAndConsumeAsync(IBus bus, PingCounter counter, int messages)
    {
        counter.Expect(messages);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, messages).Select(i => bus.Publish(new BenchPing { Id = Guid.NewGuid(), Index = i })));
        await counter.AllConsumed.Task.WaitAsync(TimeSpan.FromMinutes(5));
        return watch.Elapsed;
    }
}

/// <summary>What the measured window of <see cref="SagaBenchmark.RunManyAsync"/> cost the broker and the machine.</summary>
/// <param name="Published">Messages clients published into the stack's vhost.</param>
/// <param name="Delivered">Messages the broker delivered to consumers on the vhost.</param>
/// <param name="ExecutionsPerInstance">ExecuteAlignmentRun deliveries to each Alignment instance, in instance order.</param>
public sealed record WindowStatistics(long Published, long Delivered, IReadOnlyList<long> ExecutionsPerInstance, CpuUse Cpu, TimeSpan Elapsed)
{
    public RunLatency? Latency { get; init; }

    public string Describe(ServiceStack stack, int runs)
    {
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Published / (double)runs:0.0} messages published and {Delivered / (double)runs:0.0} delivered per run");
        text.Append("; runs executed per instance (deliveries of ").Append(SagaBenchmark.WorkerQueue).Append("): ")
            .Append(string.Join(" + ", ExecutionsPerInstance));
        var seconds = Elapsed.TotalSeconds;
        text.Append(CultureInfo.InvariantCulture, $"; CPU in the {seconds:0.0} s window: machine {Cpu.MachineBusySeconds:0.0} s of {Cpu.Cores * seconds:0.0} s ({Cpu.MachineBusySeconds / (Cpu.Cores * seconds):P0} busy, all processes)");
        for (var i = 0; i < stack.Alignment.Count; i++)
            text.Append(CultureInfo.InvariantCulture, $", alignment#{i + 1} {Cpu.AlignmentSeconds[i]:0.0} s");
        text.Append(CultureInfo.InvariantCulture, $", metrics {Cpu.MetricsSeconds:0.0} s, annotations {Cpu.AnnotationsSeconds:0.0} s, bench {Cpu.BenchSeconds:0.0} s");
        text.Append(CultureInfo.InvariantCulture, $", PostgreSQL {Cpu.PostgresSeconds:0.0} s, RabbitMQ {Cpu.RabbitMqSeconds:0.0} s");
        text.Append(CultureInfo.InvariantCulture,
            $"; per run: machine {Cpu.MachineBusySeconds / runs * 1000:0.0} ms = Alignment {Cpu.AlignmentSeconds.Sum() / runs * 1000:0.0} + Metrics {Cpu.MetricsSeconds / runs * 1000:0.0} "
            + $"+ Annotations {Cpu.AnnotationsSeconds / runs * 1000:0.0} + PostgreSQL {Cpu.PostgresSeconds / runs * 1000:0.0} + RabbitMQ {Cpu.RabbitMqSeconds / runs * 1000:0.0} "
            + $"+ bench {Cpu.BenchSeconds / runs * 1000:0.0} + other {Cpu.OtherSeconds / runs * 1000:0.0} ms");
        if (Latency is { } latency) text.Append("; ").Append(latency.Describe());
        var servicePerRun = (Cpu.AlignmentSeconds.Sum() + Cpu.MetricsSeconds + Cpu.AnnotationsSeconds) / runs;
        text.Append(CultureInfo.InvariantCulture, $"; service CPU per run {servicePerRun * 1000:0} ms, so {Cpu.Cores} cores cap the services alone at {Cpu.Cores / servicePerRun:0} runs/s");
        return text.ToString();
    }
}

/// <summary>CPU seconds used between two <see cref="CpuSample"/>s.</summary>
public sealed record CpuUse(int Cores, double MachineBusySeconds, IReadOnlyList<double> AlignmentSeconds, double MetricsSeconds, double AnnotationsSeconds,
    double BenchSeconds, double PostgresSeconds, double RabbitMqSeconds)
{
    /// <summary>Busy time no named process accounts for: the kernel's own work, other programs.</summary>
    public double OtherSeconds => MachineBusySeconds - AlignmentSeconds.Sum() - MetricsSeconds - AnnotationsSeconds - BenchSeconds - PostgresSeconds - RabbitMqSeconds;
}

/// <summary>The machine's busy time (/proc/stat) and the CPU time of the stack's processes and the bench's own, at one instant.</summary>
public sealed record CpuSample(double MachineBusySeconds, IReadOnlyList<double> AlignmentSeconds, double MetricsSeconds, double AnnotationsSeconds,
    double BenchSeconds, double PostgresSeconds, double RabbitMqSeconds)
{
    // USER_HZ: the unit of /proc/stat on every Linux the bench runs on.
    const double TicksPerSecond = 100;
    public const string PostgresCommand = "postgres";
    /// <summary>The Erlang VM RabbitMQ runs in; the server's is told from rabbitmqctl's and other tools' by its boot argument.</summary>
    public const string RabbitMqCommand = "beam.smp";
    const string RabbitMqServerArgument = "rabbit boot";

    public static CpuSample Take(ServiceStack stack) => new(
        MachineBusy(), stack.Alignment.Select(a => ProcessSeconds(a.ProcessId)).ToList(), ProcessSeconds(stack.Metrics.ProcessId),
        ProcessSeconds(stack.Annotations.ProcessId), Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
        CommandSeconds(PostgresCommand), CommandSeconds(RabbitMqCommand));

    public CpuUse Minus(CpuSample before) => new(Environment.ProcessorCount, MachineBusySeconds - before.MachineBusySeconds,
        AlignmentSeconds.Zip(before.AlignmentSeconds, (a, b) => a - b).ToList(), MetricsSeconds - before.MetricsSeconds,
        AnnotationsSeconds - before.AnnotationsSeconds, BenchSeconds - before.BenchSeconds, PostgresSeconds - before.PostgresSeconds,
        RabbitMqSeconds - before.RabbitMqSeconds);

    /// <summary>
    /// CPU of every process running <paramref name="command"/> (/proc/PID/stat: utime, stime, and cutime, cstime of
    /// the children it reaped, so that PostgreSQL backends that ended in the window still count, through the postmaster);
    /// for RabbitMQ, the server's VM only. PostgreSQL and RabbitMQ serve whatever else runs on the machine too: on a quiet
    /// machine that is only the bench.
    /// </summary>
    public static double CommandSeconds(string command)
    {
        long ticks = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out _)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                // "pid (comm) state ppid ...": the command may contain spaces and parentheses, so split after the last ')'.
                var open = stat.IndexOf('(');
                var close = stat.LastIndexOf(')');
                if (open < 0 || close < open || stat[(open + 1)..close] != command) continue;
                // Short-lived tools (rabbitmqctl is a beam.smp too) would take their CPU with them when they end mid-window.
                if (command == RabbitMqCommand && !File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Contains(RabbitMqServerArgument))
                    continue;
                var fields = stat[(close + 2)..].Split(' ');
                // Fields 14-17 of stat(5); here index 0 is field 3 (state).
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)
                    + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // The process ended while being read.
            }
        }
        return ticks / TicksPerSecond;
    }

    static double ProcessSeconds(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime.TotalSeconds;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return 0;
        }
    }

    /// <summary>Everything but idle and iowait on the first line of /proc/stat (user nice system idle iowait irq softirq steal).</summary>
    public static double MachineBusy()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            return (fields.Sum() - fields[3] - fields[4]) / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

/// <summary>
/// The message counters of the stack's vhost, read from the RabbitMQ management API (the test infrastructure's user has
/// management rights). The broker samples its statistics every few seconds, so a reading waits until they stop moving.
/// </summary>
public sealed class BrokerStatistics : IDisposable
{
    /// <summary>Twice RabbitMQ's default statistics interval (5 s): unchanged this long means settled, also on a loaded machine.</summary>
    static readonly TimeSpan Quiet = TimeSpan.FromSeconds(10);
    static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(90);

    readonly HttpClient http;
    readonly string vhost;

    BrokerStatistics(HttpClient http, string vhost)
    {
        this.http = http;
        this.vhost = vhost;
    }

    public sealed record Counters(long Published, long Delivered, IReadOnlyDictionary<int, long> WorkerDeliveries);

    /// <summary>
    /// The vhost the stack's services use: ServiceStack does not expose it, so it is read from the connection string in
    /// the first Alignment process's environment (the bench starts that process and runs as the same user).
    /// </summary>
    public static BrokerStatistics ForStack(ServiceStack stack)
    {
        var environment = File.ReadAllText($"/proc/{stack.Alignment[0].ProcessId}/environ").Split('\0');
        var messaging = environment.FirstOrDefault(e => e.StartsWith("ConnectionStrings__messaging=", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("The Alignment process has no ConnectionStrings__messaging.");
        var broker = new Uri(messaging["ConnectionStrings__messaging=".Length..]);
        var credentials = broker.UserInfo.Split(':', 2);
        var http = new HttpClient { BaseAddress = new Uri(TestInfrastructure.RabbitMqManagementUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(
            $"{Uri.UnescapeDataString(credentials[0])}:{Uri.UnescapeDataString(credentials[1])}")));
        return new BrokerStatistics(http, Uri.UnescapeDataString(broker.AbsolutePath.Trim('/')));
    }

    /// <summary>Reads until the counters have not moved for <see cref="Quiet"/> (or <see cref="MaxWait"/> passed).</summary>
    public async Task<Counters> SettledAsync(IReadOnlyList<int> workerProcessIds)
    {
        var watch = Stopwatch.StartNew();
        var last = await ReadAsync(workerProcessIds);
        var unchangedSince = watch.Elapsed;
        while (watch.Elapsed - unchangedSince < Quiet && watch.Elapsed < MaxWait)
        {
            await Task.Delay(1000);
            var now = await ReadAsync(workerProcessIds);
            if (now.Published != last.Published || now.Delivered != last.Delivered
                || !now.WorkerDeliveries.OrderBy(p => p.Key).SequenceEqual(last.WorkerDeliveries.OrderBy(p => p.Key)))
            {
                unchangedSince = watch.Elapsed;
                last = now;
            }
        }
        return last;
    }

    async Task<Counters> ReadAsync(IReadOnlyList<int> workerProcessIds)
    {
        var escaped = Uri.EscapeDataString(vhost);
        var overview = await http.GetFromJsonAsync<JsonElement>($"api/vhosts/{escaped}");
        var stats = overview.TryGetProperty("message_stats", out var s) ? s : default;
        long Counter(string name) => stats.ValueKind == JsonValueKind.Object && stats.TryGetProperty(name, out var v) ? v.GetInt64() : 0;

        // Which process owns which connection, which channel consumes the worker queue, and what each channel delivered.
        var processOfConnection = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var connection in (await http.GetFromJsonAsync<JsonElement>($"api/vhosts/{escaped}/connections")).EnumerateArray())
        {
            if (connection.TryGetProperty("client_properties", out var client) && client.TryGetProperty("process_id", out var pid)
                && int.TryParse(pid.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var processId)
                && workerProcessIds.Contains(processId))
                processOfConnection[connection.GetProperty("name").GetString()!] = processId;
        }
        var workerChannels = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var consumer in (await http.GetFromJsonAsync<JsonElement>($"api/consumers/{escaped}")).EnumerateArray())
        {
            if (consumer.GetProperty("queue").GetProperty("name").GetString() != SagaBenchmark.WorkerQueue) continue;
            var channel = consumer.GetProperty("channel_details");
            if (processOfConnection.TryGetValue(channel.GetProperty("connection_name").GetString()!, out var processId))
                workerChannels[channel.GetProperty("name").GetString()!] = processId;
        }
        var deliveries = workerProcessIds.Distinct().ToDictionary(pid => pid, _ => 0L);
        foreach (var channel in (await http.GetFromJsonAsync<JsonElement>($"api/vhosts/{escaped}/channels")).EnumerateArray())
        {
            if (!workerChannels.TryGetValue(channel.GetProperty("name").GetString()!, out var processId)) continue;
            if (channel.TryGetProperty("message_stats", out var channelStats) && channelStats.TryGetProperty("deliver_get", out var delivered))
                deliveries[processId] += delivered.GetInt64();
        }
        return new Counters(Counter("publish"), Counter("deliver_get"), deliveries);
    }

    public void Dispose() => http.Dispose();
}

/// <summary>
/// Where a run's time went, from the saga rows: waiting (queued until a worker started it: the outbox publishing
/// ExecuteAlignmentRun, then a free worker slot) and executing (started until the saga recorded it aligned); and how
/// long the outbox held the messages committed in the window before publishing them.
/// </summary>
public sealed record RunLatency(double[] WaitingMs, double[] ExecutingMs, double[] OutboxLagMs)
{
    public static async Task<RunLatency> ReadAsync(string alignmentDatabase, IReadOnlyList<Guid> ids, DateTimeOffset since)
    {
        await using var connection = new NpgsqlConnection(alignmentDatabase);
        await connection.OpenAsync();
        var waiting = new List<double>();
        var executing = new List<double>();
        await using (var command = new NpgsqlCommand("""
            SELECT EXTRACT(EPOCH FROM ((a ->> 'startedAt')::timestamptz - (a ->> 'queuedAt')::timestamptz)) * 1000,
                   EXTRACT(EPOCH FROM ((a ->> 'endedAt')::timestamptz - (a ->> 'startedAt')::timestamptz)) * 1000
            FROM alignment_runs, jsonb_array_elements(document -> 'attempts') AS a
            WHERE correlation_id = ANY(@ids) AND a ->> 'startedAt' IS NOT NULL AND a ->> 'endedAt' IS NOT NULL
            """, connection))
        {
            command.Parameters.AddWithValue("ids", ids.ToArray());
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                waiting.Add((double)reader.GetDecimal(0));
                executing.Add((double)reader.GetDecimal(1));
            }
        }
        var lag = new List<double>();
        await using (var command = new NpgsqlCommand("""
            SELECT EXTRACT(EPOCH FROM (dispatched_at - created_at)) * 1000 FROM outbox_messages
            WHERE created_at >= @since AND dispatched_at IS NOT NULL
            """, connection))
        {
            command.Parameters.AddWithValue("since", since.UtcDateTime);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) lag.Add((double)reader.GetDecimal(0));
        }
        return new RunLatency([.. waiting.Order()], [.. executing.Order()], [.. lag.Order()]);
    }

    public string Describe()
    {
        static string Spread(double[] sorted) => sorted.Length == 0 ? "n/a" : string.Create(CultureInfo.InvariantCulture,
            $"p50 {Measure.Percentile(sorted, 50):0} ms, p90 {Measure.Percentile(sorted, 90):0} ms, max {sorted[^1]:0} ms");
        return $"per run: waiting {Spread(WaitingMs)}; executing {Spread(ExecutingMs)}; outbox lag ({OutboxLagMs.Length} messages) {Spread(OutboxLagMs)}";
    }
}
