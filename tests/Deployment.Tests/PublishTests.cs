using System.Text.Json;
using System.Text.Json.Nodes;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// `dotnet publish` of each deployable service, as the image build runs it, with the SDK's container target
/// ComputeContainerConfig (which needs no registry): the files the image's command starts are in the output, and the
/// image would run as the non-root user on the port the manifests use. Pushing needs a registry and is left to CI.
/// </summary>
public sealed class PublishTests
{
    public static TheoryData<string> Services => [.. SourceFacts.Services.Select(s => s.Name)];

    [Fact]
    public void Every_deployable_service_is_published_and_the_development_issuer_is_not()
    {
        SourceFacts.Services.Select(s => s.Name).Should().BeEquivalentTo(["alignment", "annotations", "metrics", "web"]);
    }

    // One publish per service; xunit runs a theory's cases one after another, so the shared project references
    // (ServiceDefaults, contracts) are never built by two publishes at once.
    [Theory, MemberData(nameof(Services))]
    public void The_published_service_has_what_its_image_starts_and_runs_as_a_non_root_user_on_port_8080(string service)
    {
        var project = SourceFacts.Services.Single(s => s.Name == service);
        var output = Path.Combine(Path.GetTempPath(), $"metric-alignment-publish-{service}-{Guid.NewGuid():N}");
        try
        {
            var image = Publish(project.ProjectPath, output);

            var appCommand = image.Items["ContainerAppCommand"];
            appCommand.Should().HaveCount(2).And.StartWith("dotnet");
            var workingDirectory = image.Properties["ContainerWorkingDirectory"];
            appCommand[1].Should().StartWith(workingDirectory);
            var entryAssembly = appCommand[1][workingDirectory.Length..];
            entryAssembly.Should().Be(image.Properties["TargetFileName"]);
            File.Exists(Path.Combine(output, entryAssembly)).Should().BeTrue($"the image starts {appCommand[1]}");
            File.Exists(Path.Combine(output, "appsettings.json")).Should().BeTrue();

            var runtimeConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(output, Path.ChangeExtension(entryAssembly, ".runtimeconfig.json"))))!;
            var frameworks = runtimeConfig["runtimeOptions"]!["frameworks"]?.AsArray().Select(f => f!) ?? [runtimeConfig["runtimeOptions"]!["framework"]!];
            frameworks.Should().Contain(f => (string?)f["name"] == "Microsoft.AspNetCore.App" && ((string?)f["version"] ?? "").StartsWith("10.0"),
                "the base image is the ASP.NET Core 10 runtime");
            ((string?)runtimeConfig["runtimeOptions"]!["configProperties"]?["System.Threading.ThreadPool.UnfairSemaphoreSpinLimit"]?.ToString())
                .Should().Be("0", "idle thread-pool workers park instead of spinning (Directory.Build.props)");
            if (Directory.Exists(Path.Combine(Path.GetDirectoryName(project.ProjectPath)!, "wwwroot")))
                Directory.GetFiles(Path.Combine(output, "wwwroot"), "*", SearchOption.AllDirectories).Should().NotBeEmpty("the static files ship with it");

            long.TryParse(image.Properties["ContainerUser"], out var user).Should().BeTrue("runAsNonRoot can only verify a numeric user");
            user.Should().BePositive();
            image.Items["ContainerPort"].Should().Equal("8080");
            image.Properties["ContainerBaseRegistry"].Should().Be("mcr.microsoft.com");
            image.Properties["ContainerBaseName"].Should().Be("dotnet/aspnet");
            image.Properties["ContainerRepository"].Should().Be($"metric-alignment/{service}");
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }

    static PublishedImage Publish(string projectPath, string output)
    {
        string[] properties = ["TargetFileName", "ContainerWorkingDirectory", "ContainerUser", "ContainerBaseRegistry", "ContainerBaseName", "ContainerRepository"];
        string[] items = ["ContainerAppCommand", "ContainerPort"];
        var arguments = new List<string> { "publish", projectPath, "-c", "Release", "-o", output, "-t:ComputeContainerConfig", "-nodeReuse:false" };
        // A restored project (the usual case after the solution's build) skips the restore; a clean one restores here.
        var projectDirectory = Path.GetDirectoryName(projectPath)!;
        if (File.Exists(Path.Combine(projectDirectory, "obj", "project.assets.json"))) arguments.Add("--no-restore");
        // Built by the solution's Release build (the test command's): publish that build. Rebuilding here could rewrite the
        // binaries that other test projects, running at the same time, start services from.
        var built = Path.Combine(projectDirectory, "bin", "Release", "net10.0");
        if (Directory.Exists(built) && Directory.EnumerateFiles(built, "*.runtimeconfig.json").Any()) arguments.Add("--no-build");
        arguments.AddRange(properties.Select(p => $"-getProperty:{p}"));
        arguments.AddRange(items.Select(i => $"-getItem:{i}"));

        var result = ProcessRunner.Run("dotnet", arguments, RepositoryPaths.Root, TimeSpan.FromMinutes(10));
        result.ExitCode.Should().Be(0, $"dotnet {string.Join(' ', arguments)}:\n{result.StandardOutput}{result.StandardError}");

        using var json = JsonDocument.Parse(result.StandardOutput);
        return new PublishedImage(
            json.RootElement.GetProperty("Properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? ""),
            json.RootElement.GetProperty("Items").EnumerateObject().ToDictionary(
                i => i.Name, i => (IReadOnlyList<string>)i.Value.EnumerateArray().Select(item => item.GetProperty("Identity").GetString()!).ToList()));
    }

    sealed record PublishedImage(IReadOnlyDictionary<string, string> Properties, IReadOnlyDictionary<string, IReadOnlyList<string>> Items);
}
