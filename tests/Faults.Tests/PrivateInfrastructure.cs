using System.Diagnostics;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Faults.Tests;

/// <summary>
/// A PostgreSQL and a RabbitMQ of this test run's own, started by eng/infra.sh with a private state folder and ports,
/// so that stopping them never disturbs the shared instances every other test project uses at the same time.
/// </summary>
public sealed class PrivateInfrastructure
{
    const string User = "alignment";
    const string Password = "alignment-dev-pw";
    const string VirtualHost = "alignment";
    static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(120);

    readonly Dictionary<string, string> environment;

    PrivateInfrastructure(string stateDirectory, int postgresPort, int rabbitPort, Dictionary<string, string> environment)
    {
        StateDirectory = stateDirectory;
        PostgresPort = postgresPort;
        RabbitPort = rabbitPort;
        this.environment = environment;
    }

    public string StateDirectory { get; }
    public int PostgresPort { get; }
    public int RabbitPort { get; }

    /// <summary>
    /// The database as its service connects to it: eng/infra.sh makes each service's role (metrics_svc for metricsdb...)
    /// the owner of its database and lets no other role, not even the administrator, connect to it.
    /// </summary>
    public string Database(string name)
    {
        var service = name.EndsWith("db", StringComparison.Ordinal) ? name[..^2] : name;
        return $"Host=127.0.0.1;Port={PostgresPort};Database={name};Username={service.Replace('-', '_')}_svc;Password={service}-svc-dev-pw";
    }
    public string Messaging => $"amqp://{User}:{Password}@127.0.0.1:{RabbitPort}/{VirtualHost}";
    public Uri MessagingHost => new($"rabbitmq://127.0.0.1:{RabbitPort}/{VirtualHost}");
    public (string User, string Password) MessagingCredentials => (User, Password);

    public static async Task<PrivateInfrastructure> StartAsync()
    {
        // Under /tmp and world-traversable: PostgreSQL runs as the postgres user and must reach its data folder.
        var state = Path.Combine(Path.GetTempPath(), $"ma-faults-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("eng/infra.sh runs PostgreSQL and RabbitMQ on Linux only.");
        Directory.CreateDirectory(state, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var ports = LoopbackPorts.Reserve(5);
        var environment = new Dictionary<string, string>
        {
            ["MA_STATE_DIR"] = state,
            ["MA_PG_PORT"] = ports[0].ToString(),
            ["MA_RMQ_PORT"] = ports[1].ToString(),
            ["MA_RMQ_MGMT_PORT"] = ports[2].ToString(),
            ["MA_RMQ_DIST_PORT"] = ports[3].ToString(),
            ["MA_RMQ_EPMD_PORT"] = ports[4].ToString(),
        };
        var infrastructure = new PrivateInfrastructure(state, ports[0], ports[1], environment);
        await infrastructure.RunAsync("up");
        return infrastructure;
    }

    public Task StopPostgresAsync() => RunAsync("stop-postgres");
    public Task StartPostgresAsync() => RunAsync("start-postgres");
    public Task StopRabbitMqAsync() => RunAsync("stop-rabbitmq");
    public Task StartRabbitMqAsync() => RunAsync("start-rabbitmq");

    public async Task DownAsync()
    {
        try
        {
            await RunAsync("down");
        }
        finally
        {
            // The data folder may live elsewhere (linked from the state folder); both go.
            try { Directory.Delete(StateDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    async Task RunAsync(string command)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryPaths.Root, "eng", "infra.sh"), command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ScriptTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"eng/infra.sh {command} did not finish within {ScriptTimeout}: {await errors}");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"eng/infra.sh {command} exited with {process.ExitCode}: {await output}{await errors}");
    }
}
