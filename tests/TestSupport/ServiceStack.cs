using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace MetricAlignment.TestSupport;

/// <summary>
/// One service started from its built DLL as a process of its own (as in production), so that its CPU, memory and
/// HTTP stack are its own and not the harness's, and so that it can be killed like a crashing production process.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process process;
    readonly StreamWriter log;
    int disposed;

    ServiceProcess(string name, Process process, Uri address, StreamWriter log, string logPath)
    {
        Name = name;
        this.process = process;
        Address = address;
        this.log = log;
        LogPath = logPath;
    }

    public string Name { get; }
    public Uri Address { get; }
    public int ProcessId => process.Id;
    /// <summary>The file the process's standard output and error go to.</summary>
    public string LogPath { get; }
    public bool HasExited => process.HasExited;

    /// <summary>The process's peak resident set (VmHWM) since start or since <see cref="ResetPeakMemory"/>.</summary>
    public long PeakResidentBytes => ReadStatusKilobytes(process.Id, "VmHWM") * 1024;

    /// <summary>Restarts the peak resident set measurement (Linux clear_refs 5); false where unsupported.</summary>
    public bool ResetPeakMemory() => ResetPeak(process.Id);

    /// <summary>Starts the service and waits until /health answers; its output goes to <see cref="LogFolder"/>.</summary>
    public static Task<ServiceProcess> StartAsync(string name, IDictionary<string, string> environment, TimeSpan timeout) =>
        StartAsync(name, environment, timeout, LogFolder);

    /// <summary>Starts the service and waits until /health answers; its output goes to a file in <paramref name="logFolder"/>.</summary>
    public static async Task<ServiceProcess> StartAsync(string name, IDictionary<string, string> environment, TimeSpan timeout, string logFolder)
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

        Directory.CreateDirectory(logFolder);
        var logPath = Path.Combine(logFolder, $"{name.ToLowerInvariant()}-{port}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {dll}.");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(name, process, address, log, logPath);

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

    /// <summary>Where the benchmarks' service logs go by default (.state/bench, git-ignored).</summary>
    public static string LogFolder
    {
        get
        {
            var folder = Path.Combine(RepositoryPaths.Root, ".state", "bench");
            Directory.CreateDirectory(folder);
            return folder;
        }
    }

    /// <summary>
    /// services/&lt;Name&gt;/bin/&lt;configuration&gt;/net10.0/MetricAlignment.&lt;Name&gt;.dll, built with the project that
    /// starts it (a ProjectReference, with ReferenceOutputAssembly="false" where it is not loaded).
    /// </summary>
    public static string ServiceBinary(string name) =>
        BuiltBinary(Path.Combine("services", name), $"MetricAlignment.{name}.dll");

    /// <summary>
    /// &lt;project folder&gt;/bin/&lt;configuration&gt;/&lt;framework&gt;/&lt;file&gt;, in the configuration and framework the
    /// running assembly was built with.
    /// </summary>
    public static string BuiltBinary(string projectFolder, string fileName)
    {
        var own = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = own.Name;
        var configuration = own.Parent!.Name;
        var dll = Path.Combine(RepositoryPaths.Root, projectFolder, "bin", configuration, framework, fileName);
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{dll} is missing: build the project that starts it (it references {projectFolder}) with -c {configuration}.", dll);
        return dll;
    }

    public static int FreePort() => LoopbackPorts.Reserve(1)[0];

    public static long ReadStatusKilobytes(int pid, string field)
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

    public static bool ResetPeak(int pid)
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

    /// <summary>
    /// SIGKILL, as the kernel's OOM killer or a node failure would end it: no shutdown code runs, un-acknowledged messages
    /// go back to their queues, open transactions are rolled back when PostgreSQL sees the connection drop.
    /// </summary>
    public async Task KillAsync(TimeSpan timeout)
    {
        if (process.HasExited) return;
        process.Kill(entireProcessTree: false);
        using var wait = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(wait.Token);
    }

    /// <summary>Kills the process if it still runs; a second call (the stack disposing what a test disposed) does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
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

/// <summary>How a <see cref="ServiceStack"/> is started.</summary>
public sealed record ServiceStackOptions
{
    /// <summary>The start of the names of its databases and vhost, to tell them apart when left behind.</summary>
    public string Prefix { get; init; } = "bm";
    /// <summary>Where the services' output goes; <see cref="ServiceProcess.LogFolder"/> when null.</summary>
    public string? LogFolder { get; init; }
    /// <summary>Settings every Alignment instance of the stack gets (an instance's own settings come on top).</summary>
    public IReadOnlyDictionary<string, string> AlignmentEnvironment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Metrics, Annotations and one or more Alignment instances on fresh databases and a fresh RabbitMQ vhost
/// (TestInfrastructure), removed again on dispose.
/// </summary>
public sealed class ServiceStack : IAsyncDisposable
{
    readonly List<string> databases = [];
    readonly List<ServiceProcess> processes = [];
    readonly List<ServiceProcess> alignment = [];
    readonly ServiceStackOptions options;
    string? vhost;

    ServiceStack(ServiceStackOptions options) => this.options = options;

    public ServiceProcess Metrics { get; private set; } = null!;
    public ServiceProcess Annotations { get; private set; } = null!;
    /// <summary>Every Alignment instance started so far, killed ones included, in start order.</summary>
    public IReadOnlyList<ServiceProcess> Alignment => alignment;
    public string MetricsDatabase { get; private set; } = "";
    public string AnnotationsDatabase { get; private set; } = "";
    public string AlignmentDatabase { get; private set; } = "";
    /// <summary>The amqp:// connection string of the stack's vhost, which its services share.</summary>
    public string Messaging => vhost ?? throw new InvalidOperationException("The stack has not started.");

    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Starts the services; <paramref name="alignmentInstances"/> 0 leaves Alignment out.</summary>
    public static Task<ServiceStack> StartAsync(int alignmentInstances = 1) => StartAsync(alignmentInstances, new ServiceStackOptions());

    /// <summary>Starts the services; <paramref name="alignmentInstances"/> 0 leaves Alignment out (start them later with <see cref="StartAlignmentAsync"/>).</summary>
    public static async Task<ServiceStack> StartAsync(int alignmentInstances, ServiceStackOptions options)
    {
        var stack = new ServiceStack(options);
        try
        {
            stack.MetricsDatabase = await stack.DatabaseAsync($"{options.Prefix}_metrics");
            stack.AnnotationsDatabase = await stack.DatabaseAsync($"{options.Prefix}_annotations");
            stack.AlignmentDatabase = await stack.DatabaseAsync($"{options.Prefix}_alignment");
            stack.vhost = await TestInfrastructure.CreateVirtualHostAsync(options.Prefix == "bm" ? "bench" : options.Prefix);

            stack.Metrics = await stack.StartAsync("Metrics", new()
            {
                ["ConnectionStrings__metricsdb"] = stack.MetricsDatabase,
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
            for (var i = 0; i < alignmentInstances; i++) await stack.StartAlignmentAsync();
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts one more Alignment instance on the stack's database and vhost, with <paramref name="environment"/> on top of
    /// the stack's settings (a startup hook, a worker setting), and adds it to <see cref="Alignment"/>.
    /// </summary>
    public async Task<ServiceProcess> StartAlignmentAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__alignmentdb"] = AlignmentDatabase,
            ["ConnectionStrings__messaging"] = Messaging,
            ["services__metrics__http__0"] = Metrics.Address.ToString().TrimEnd('/'),
            ["services__annotations__http__0"] = Annotations.Address.ToString().TrimEnd('/'),
        };
        foreach (var (key, value) in options.AlignmentEnvironment) settings[key] = value;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) settings[key] = value;
        var instance = await StartAsync("Alignment", settings);
        lock (alignment) alignment.Add(instance);
        return instance;
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
        var process = await ServiceProcess.StartAsync(name, environment, StartTimeout, options.LogFolder ?? ServiceProcess.LogFolder);
        lock (processes) processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(processes.ToList())) await process.DisposeAsync();
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
