using System.Text.RegularExpressions;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// What the services' own code says they need, read from the source rather than repeated here, so that a renamed
/// connection string or a new service breaks the deployment tests instead of a production rollout.
/// </summary>
public static partial class SourceFacts
{
    /// <summary>Every ASP.NET Core project under services/: each one is an image and a Deployment.</summary>
    public static IReadOnlyList<ServiceProject> Services { get; } = FindServices();

    /// <summary>ConnectionName in ServiceDefaults/MessagingExtensions.cs: the broker's connection string.</summary>
    public static string MessagingConnectionName => Constant(
        Path.Combine(RepositoryPaths.Root, "ServiceDefaults", "MessagingExtensions.cs"), "ConnectionName");

    /// <summary>How long the bus may take to start, and to stop (MassTransitHostOptions in MessagingExtensions.cs).</summary>
    public static TimeSpan BusStartTimeout => BusTimeout("StartTimeout");
    public static TimeSpan BusStopTimeout => BusTimeout("StopTimeout");

    public static string HealthPath => Constant(Path.Combine(RepositoryPaths.Root, "ServiceDefaults", "Extensions.cs"), "HealthEndpointPath");
    public static string AlivePath => Constant(Path.Combine(RepositoryPaths.Root, "ServiceDefaults", "Extensions.cs"), "AlivenessEndpointPath");

    static TimeSpan BusTimeout(string name)
    {
        var source = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "ServiceDefaults", "MessagingExtensions.cs"));
        var match = Regex.Match(source, $@"{name}\s*=\s*TimeSpan\.FromSeconds\((\d+)\)");
        if (!match.Success) throw new InvalidOperationException($"{name} not found in MessagingExtensions.cs.");
        return TimeSpan.FromSeconds(int.Parse(match.Groups[1].Value));
    }

    internal static string Constant(string file, string name)
    {
        var match = Regex.Match(File.ReadAllText(file), $@"const\s+string\s+{name}\s*=\s*""([^""]+)""");
        if (!match.Success) throw new InvalidOperationException($"const string {name} not found in {file}.");
        return match.Groups[1].Value;
    }

    static IReadOnlyList<ServiceProject> FindServices()
    {
        var services = new List<ServiceProject>();
        foreach (var project in Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "services"), "*.csproj", SearchOption.AllDirectories))
        {
            if (IsBuildOutput(project)) continue;
            if (!File.ReadAllText(project).Contains("Sdk=\"Microsoft.NET.Sdk.Web\"")) continue;
            // A development tool (the development issuer) opts out of images: it is never deployed.
            if (File.ReadAllText(project).Contains("<EnableSdkContainerSupport>false</EnableSdkContainerSupport>")) continue;
            var folder = Path.GetDirectoryName(project)!;
            var extensions = Directory.Exists(Path.Combine(folder, "Extensions"))
                ? Directory.GetFiles(Path.Combine(folder, "Extensions"), "*ServiceExtensions.cs")
                : [];
            var databases = extensions
                .SelectMany(file => DatabaseNameConstant().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value))
                .ToList();
            var usesMessageBus = Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories)
                .Where(file => !IsBuildOutput(file))
                .Any(file => File.ReadAllText(file).Contains(".AddMessageBus("));
            services.Add(new ServiceProject(Path.GetFileNameWithoutExtension(project).ToLowerInvariant(), project, databases, usesMessageBus));
        }
        return services.OrderBy(s => s.Name).ToList();
    }

    static bool IsBuildOutput(string path) =>
        path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
        || path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}");

    [GeneratedRegex(@"const\s+string\s+DatabaseName\s*=\s*""([^""]+)""")]
    private static partial Regex DatabaseNameConstant();
}

/// <param name="Name">Lower-case project name: the Deployment, Service and image name.</param>
/// <param name="Databases">The connection-string names of its own databases (DatabaseName constants).</param>
/// <param name="UsesMessageBus">Whether it calls AddMessageBus, and so needs the broker's connection string.</param>
public sealed record ServiceProject(string Name, string ProjectPath, IReadOnlyList<string> Databases, bool UsesMessageBus)
{
    public override string ToString() => Name;
}
