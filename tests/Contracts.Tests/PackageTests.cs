using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Contracts.Tests;

/// <summary>Other teams consume the contracts as a NuGet package; `dotnet pack contracts -c Release` must produce it.</summary>
public sealed class PackageTests : IDisposable
{
    readonly string output = Path.Combine(Path.GetTempPath(), "contracts-pack-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
    }

    [Fact]
    public async Task Packing_the_contracts_produces_a_package_with_the_assembly_readme_license_and_symbols()
    {
        // Packed from a copy of the sources (as in a fresh clone), so the pack never touches the bin/obj folders that
        // parallel test runs of the solution use.
        var source = CopyContractSources();
        var (exitCode, log) = await Run("dotnet", "pack", Path.Combine(source, "contracts", "Contracts.csproj"), "-c", "Release",
            "-o", output, "--disable-build-servers", "--nologo", "-v", "q");
        exitCode.Should().Be(0, $"dotnet pack must succeed:\n{log}");

        var expectedVersion = XDocument.Load(Path.Combine(RepositoryPaths.Root, "contracts", "Contracts.csproj"))
            .Descendants("Version").Single().Value;
        var package = Path.Combine(output, $"MetricAlignment.Contracts.{expectedVersion}.nupkg");
        File.Exists(package).Should().BeTrue($"the package lands in the output folder; found {string.Join(", ", Directory.GetFiles(output))}");
        File.Exists(Path.ChangeExtension(package, ".snupkg")).Should().BeTrue("symbols ship as a .snupkg beside the package");

        using var archive = ZipFile.OpenRead(package);
        var entries = archive.Entries.Select(entry => entry.FullName).ToList();
        entries.Should().Contain("lib/net10.0/MetricAlignment.Contracts.dll")
            .And.Contain("lib/net10.0/MetricAlignment.Contracts.xml", "consumers get the contract docs in their IDE")
            .And.Contain("README.md");

        using var nuspecStream = archive.GetEntry("MetricAlignment.Contracts.nuspec")!.Open();
        var nuspec = XDocument.Load(nuspecStream).Root!;
        var ns = nuspec.Name.Namespace;
        var metadata = nuspec.Element(ns + "metadata")!;
        metadata.Element(ns + "id")!.Value.Should().Be("MetricAlignment.Contracts");
        metadata.Element(ns + "version")!.Value.Should().Be(expectedVersion);
        metadata.Element(ns + "license")!.Attribute("type")!.Value.Should().Be("expression");
        metadata.Element(ns + "license")!.Value.Should().NotBeNullOrWhiteSpace();
        metadata.Element(ns + "readme")!.Value.Should().Be("README.md");
        metadata.Element(ns + "authors")!.Value.Should().NotBeNullOrWhiteSpace();
        metadata.Element(ns + "description")!.Value.Should().Contain("MassTransit");
    }

    string CopyContractSources()
    {
        var root = Path.Combine(output, "src");
        Directory.CreateDirectory(Path.Combine(root, "contracts"));
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" })
            if (File.Exists(Path.Combine(RepositoryPaths.Root, file)))
                File.Copy(Path.Combine(RepositoryPaths.Root, file), Path.Combine(root, file));
        foreach (var file in Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "contracts")))
            File.Copy(file, Path.Combine(root, "contracts", Path.GetFileName(file)));
        return root;
    }

    static async Task<(int ExitCode, string Log)> Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
