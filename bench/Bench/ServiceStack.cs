using System.Net;
using System.Diagnostics;
using System.Globalization;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Bench;

/// <summary>
/// One service started from its built DLL as a process of its own (as in production), so that its CPU, memory and
/// HTTP stack are its own and not the harness's.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process process;
    readonly StreamWriter log;

    ServiceProcess(string name, Process process, Uri address, StreamWriter log)
    {
        Name = name;
        this.process = process;
        Address = address;
        this.log = log;
    }

    public string Name { get; }
    public Uri Address { get; }
    public int ProcessId => process.Id;

    /// <summary>The process's peak resident set (VmHWM) since start or since <see cref="ResetPeakMemory"/>.</summary>
    public long PeakResidentBytes => ReadStatusKilobytes(process.Id, "VmHWM") * 1024;

    /// <summary>Restarts the peak resident set measurement (Linux clear_refs 5); false where unsupported.</summary>
    public bool ResetPeakMemory() => ResetPeak(process.Id);

    public static async Task<ServiceProcess> StartAsync(string name, IDictionary<string, string> environment, TimeSpan timeout)
    {
        var dll = ServiceBinary(name);
        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}/");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "--urls", address.ToString().TrimEnd('/') },
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment) start.Environment[key] = value;

        var logPath = Path.Combine(LogFolder, $"{name.ToLowerInvariant()}-{port}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {dll}.");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(name, process, address, log);

        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(3) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{name} exited with code {process.ExitCode} while starting; see {logPath}.");
            try
            {
                using var response = await http.GetAsync("health");
                if (response.StatusCode == HttpStatusCode.OK) return service;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            if (deadline.Elapsed > timeout)
            {
                await service.DisposeAsync();
                throw new TimeoutException($"{name} was not healthy within {timeout}; see {logPath}.");
            }
            await Task.Delay(250);
        }
    }

    public static string LogFolder
    {
        get
        {
            var folder = Path.Combine(RepositoryPaths.Root, ".state", "bench");
            Directory.CreateDirectory(folder);
            return folder;
        }
    }

    /// <summary>services/&lt;Name&gt;/bin/&lt;configuration&gt;/net10.0/MetricAlignment.&lt;Name&gt;.dll, built with the bench.</summary>
    static string ServiceBinary(string name)
    {
        var own = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = own.Name;
        var configuration = own.Parent!.Name;
        var dll = Path.Combine(RepositoryPaths.Root, "services", name, "bin", configuration, framework, $"MetricAlignment.{name}.dll");
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{dll} is missing: build bench/Bench (it builds the services) with -c {configuration}.", dll);
        return dll;
    }

    public static int FreePort() => LoopbackPorts.Reserve(1)[0];

    internal static long ReadStatusKilobytes(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                    return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            // The process is gone.
        }
        return 0;
    }

    internal static bool ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await process.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException) { /* reaped late; nothing more to do */ }
        }
        process.Dispose();
        lock (log) log.Dispose();
    }
}

/// <summary>
/// Metrics, Annotations and one or more Alignment instances on fresh databases and a fresh RabbitMQ vhost
/// (TestInfrastructure), removed again on dispose.
/// </summary>
public sealed class ServiceStack : IAsyncDisposable
{
    readonly List<string> databases = [];
    readonly List<ServiceProcess> processes = [];
    string? vhost;

    public ServiceProcess Metrics { get; private set; } = null!;
    public ServiceProcess Annotations { get; private set; } = null!;
    public IReadOnlyList<ServiceProcess> Alignment { get; private set; } = [];
    public string AnnotationsDatabase { get; private set; } = "";
    public string AlignmentDatabase { get; private set; } = "";

    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Starts the services; <paramref name="alignmentInstances"/> 0 leaves Alignment out.</summary>
    public static async Task<ServiceStack> StartAsync(int alignmentInstances = 1)
    {
        var stack = new ServiceStack();
        try
        {
            var metricsDb = await stack.DatabaseAsync("bm_metrics");
            stack.AnnotationsDatabase = await stack.DatabaseAsync("bm_annotations");
            stack.AlignmentDatabase = await stack.DatabaseAsync("bm_alignment");
            stack.vhost = await TestInfrastructure.CreateVirtualHostAsync("bench");

            stack.Metrics = await stack.StartAsync("Metrics", new()
            {
                ["ConnectionStrings__metricsdb"] = metricsDb,
                ["ConnectionStrings__messaging"] = stack.vhost,
            });
            stack.Annotations = await stack.StartAsync("Annotations", new()
            {
                ["ConnectionStrings__annotationsdb"] = stack.AnnotationsDatabase,
                ["ConnectionStrings__messaging"] = stack.vhost,
                ["services__metrics__http__0"] = stack.Metrics.Address.ToString().TrimEnd('/'),
                // A million rows of ~1.4 KB exceed the default 1 GiB body limit.
                ["Annotations__Import__MaxBodyBytes"] = (8L << 30).ToString(CultureInfo.InvariantCulture),
            });
            var alignment = new List<ServiceProcess>();
            for (var i = 0; i < alignmentInstances; i++)
                alignment.Add(await stack.StartAsync("Alignment", new()
                {
                    ["ConnectionStrings__alignmentdb"] = stack.AlignmentDatabase,
                    ["ConnectionStrings__messaging"] = stack.vhost,
                    ["services__metrics__http__0"] = stack.Metrics.Address.ToString().TrimEnd('/'),
                    ["services__annotations__http__0"] = stack.Annotations.Address.ToString().TrimEnd('/'),
                }));
            stack.Alignment = alignment;
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    async Task<string> DatabaseAsync(string prefix)
    {
        var connectionString = await TestInfrastructure.CreateDatabaseAsync(prefix);
        databases.Add(connectionString);
        return connectionString;
    }

    /// <summary>
    /// The services run in Production (as measured), where a signing key is refused unless explicitly allowed: the bench
    /// has no identity provider, so they trust the test issuer's key (the bench's clients sign with it, see
    /// Measure.Client) and sign their own service tokens with it for the calls they make to each other.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> AuthEnvironment = new Dictionary<string, string>
    {
        ["Auth__Issuer"] = TestTokens.Issuer,
        ["Auth__SigningKey"] = TestTokens.SigningKey,
        ["Auth__AllowSigningKeyInProduction"] = "true",
    };

    async Task<ServiceProcess> StartAsync(string name, Dictionary<string, string> environment)
    {
        foreach (var (key, value) in AuthEnvironment) environment.TryAdd(key, value);
        var process = await ServiceProcess.StartAsync(name, environment, StartTimeout);
        processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(processes)) await process.DisposeAsync();
        foreach (var database in databases)
        {
            try { await TestInfrastructure.DropDatabaseAsync(database); }
            catch (Npgsql.NpgsqlException) { /* left for the next cleanup; the name is unique */ }
        }
        if (vhost is not null)
        {
            try { await TestInfrastructure.DeleteVirtualHostAsync(vhost); }
            catch (HttpRequestException) { /* as above */ }
        }
    }
}
