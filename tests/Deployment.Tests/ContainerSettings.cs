using System.Text.Json;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// The container settings of each service project as MSBuild evaluates them (`dotnet msbuild -getProperty/-getItem`):
/// what `dotnet publish -t:PublishContainer` would put in the image, checked without a registry.
/// </summary>
public sealed class ContainerSettings
{
    static readonly string[] Properties =
        ["ContainerRepository", "ContainerUser", "ContainerBaseImage", "ContainerImageTags", "Version", "TargetFramework", "TreatWarningsAsErrors", "EnableSdkContainerSupport"];
    static readonly string[] Items = ["ContainerPort", "ContainerLabel", "ContainerEnvironmentVariable"];

    public ContainerSettings()
    {
        // One evaluation per project, in parallel: each is a separate MSBuild process.
        var evaluations = SourceFacts.Services
            .AsParallel()
            .Select(service => (service.Name, Settings: Evaluate(service.ProjectPath)))
            .ToDictionary(e => e.Name, e => e.Settings);
        ByService = evaluations;
    }

    public IReadOnlyDictionary<string, ProjectContainerSettings> ByService { get; }

    static ProjectContainerSettings Evaluate(string projectPath)
    {
        var arguments = new List<string> { "msbuild", projectPath };
        arguments.AddRange(Properties.Select(p => $"-getProperty:{p}"));
        arguments.AddRange(Items.Select(i => $"-getItem:{i}"));
        var result = ProcessRunner.Run("dotnet", arguments, RepositoryPaths.Root, TimeSpan.FromMinutes(3));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"dotnet msbuild {projectPath} failed: {result.StandardOutput}{result.StandardError}");

        using var json = JsonDocument.Parse(result.StandardOutput);
        var properties = json.RootElement.GetProperty("Properties").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
        var items = json.RootElement.GetProperty("Items").EnumerateObject().ToDictionary(
            i => i.Name,
            i => (IReadOnlyList<MsBuildItem>)i.Value.EnumerateArray()
                .Select(item => new MsBuildItem(item.GetProperty("Identity").GetString()!,
                    item.TryGetProperty("Value", out var value) ? value.GetString() : null,
                    item.TryGetProperty("Type", out var type) ? type.GetString() : null))
                .ToList());
        return new ProjectContainerSettings(properties, items);
    }
}

public sealed record MsBuildItem(string Identity, string? Value, string? Type);

public sealed record ProjectContainerSettings(IReadOnlyDictionary<string, string> Properties, IReadOnlyDictionary<string, IReadOnlyList<MsBuildItem>> Items)
{
    public string Property(string name) => Properties.GetValueOrDefault(name, "");
    public IReadOnlyList<MsBuildItem> Item(string name) => Items.GetValueOrDefault(name, []);
}
