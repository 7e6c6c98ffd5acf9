using System.Text.RegularExpressions;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// Every setting the ConfigMaps give the services is one the code reads, so that renaming an option (or misspelling
/// a key here) fails a test instead of being silently ignored in production, where the default would apply.
/// </summary>
[Collection(RenderedOverlaysCollection.Name)]
public sealed partial class ConfigurationKeyTests(RenderedOverlays overlays)
{
    /// <summary>Keys read by the .NET runtime, OpenTelemetry or service discovery rather than by the services' code.</summary>
    static readonly string[] PlatformPrefixes = ["DOTNET_", "OTEL_", "services__", "Logging__"];

    public static TheoryData<string> ServiceKeys => [.. ConfigFileKeys().Where(key => !IsPlatformKey(key))];
    public static TheoryData<string> LoggingKeys => [.. ConfigFileKeys().Where(key => key.StartsWith("Logging__", StringComparison.Ordinal))];

    [Fact]
    public void The_config_files_carry_service_settings_and_logging_settings()
    {
        ServiceKeys.Should().HaveCountGreaterThan(5);
        LoggingKeys.Should().NotBeEmpty();
    }

    [Theory, MemberData(nameof(ServiceKeys))]
    public void Each_service_setting_in_the_config_files_is_an_option_the_code_reads(string key)
    {
        SettingsSource.ReaderOf(key).Should().NotBeNull($"{key} (configuration path {key.Replace("__", ":")}) must name an options property or a key the code reads");
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Every_service_setting_an_overlay_adds_is_an_option_the_code_reads(string rendering)
    {
        var keys = overlays[rendering].ConfigMaps.SelectMany(c => c.Data?.Keys ?? []).Where(key => !IsPlatformKey(key)).Distinct().ToList();

        keys.Should().NotBeEmpty();
        keys.Where(key => SettingsSource.ReaderOf(key) is null).Should().BeEmpty($"{rendering}: every key must be read by the code");
    }

    [Fact]
    public void A_renamed_option_is_not_recognised()
    {
        // The check itself must be able to fail: a property that does not exist in a section that does.
        SettingsSource.ReaderOf("Alignment__Worker__ConcurrentRunz").Should().BeNull();
        SettingsSource.ReaderOf("Alignment__Worker__ConcurrentRuns").Should().NotBeNull();
    }

    [Theory, MemberData(nameof(LoggingKeys))]
    public void Each_logging_setting_names_a_property_of_the_console_logger_or_its_json_formatter(string key)
    {
        var path = key.Split("__");
        if (path is ["Logging", "LogLevel", _]) { Enum.TryParse<LogLevel>(ConfigFileValue(key), out _).Should().BeTrue(key); return; }

        var (options, property) = path switch
        {
            ["Logging", "Console", "FormatterOptions", var name] => (typeof(JsonConsoleFormatterOptions), name),
            ["Logging", "Console", var name] => (typeof(ConsoleLoggerOptions), name),
            _ => (null, ""),
        };
        options.Should().NotBeNull($"{key} is not a console logging setting this test knows");
        options!.GetProperty(property).Should().NotBeNull($"{key}: {options.Name} has no property {property}");
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Production_log_lines_are_json_with_the_scopes_that_carry_the_run_and_metric_ids(string rendering)
    {
        // The shared ConfigMap bound the way the host binds its environment, read back through the console logger's options.
        var shared = overlays[rendering].ConfigMaps.Single(c => c.Metadata.Name.StartsWith("metric-alignment-config-", StringComparison.Ordinal));
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(shared.Data.Select(e => new KeyValuePair<string, string?>(e.Key.Replace("__", ":"), e.Value)))
            .Build();
        using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddConfiguration(configuration.GetSection("Logging")).AddConsole())
            .BuildServiceProvider();

        services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName.Should().Be(ConsoleFormatterNames.Json);
        services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue.IncludeScopes.Should().BeTrue();
    }

    public static TheoryData<string> Renderings => ManifestTests.Renderings;

    static bool IsPlatformKey(string key) => PlatformPrefixes.Any(prefix => key.StartsWith(prefix, StringComparison.Ordinal));

    static IEnumerable<string> ConfigFileKeys() => ConfigFileEntries().Select(e => e.Key);

    static string ConfigFileValue(string key) => ConfigFileEntries().First(e => e.Key == key).Value;

    static IEnumerable<KeyValuePair<string, string>> ConfigFileEntries() =>
        Directory.GetFiles(Path.Combine(Kustomize.DeployRoot, "base", "config"), "*.env")
            .OrderBy(f => f, StringComparer.Ordinal)
            .SelectMany(File.ReadAllLines)
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => new KeyValuePair<string, string>(line[..line.IndexOf('=')], line[(line.IndexOf('=') + 1)..]));
}

/// <summary>Where the services' source reads a configuration key (read from the source, as <see cref="SourceFacts"/> does).</summary>
static partial class SettingsSource
{
    static readonly IReadOnlyList<SourceFile> Files = FindFiles();

    /// <summary>
    /// A description of the code that reads <paramref name="environmentKey"/> (`Section__Sub__Property`), or null. Read means:
    /// the full path as a string constant; or a property of the options class whose section constant is the path's
    /// section; or the last part as a key looked up in a file that names the section.
    /// </summary>
    public static string? ReaderOf(string environmentKey)
    {
        var path = environmentKey.Split("__");
        var fullPath = string.Join(':', path);
        if (Files.FirstOrDefault(f => f.Text.Contains($"\"{fullPath}\"", StringComparison.Ordinal)) is { } literal)
            return $"{literal.RelativePath}: \"{fullPath}\"";

        for (var split = path.Length - 1; split >= 1; split--)
        {
            var section = string.Join(':', path[..split]);
            var rest = string.Join(':', path[split..]);
            foreach (var declaration in Files.SelectMany(f => SectionConstants(f).Where(c => c.Value == section)))
            {
                if (split == path.Length - 1 && Regex.IsMatch(declaration.File.Text, $@"public\s+[\w<>?,\s\[\]]+?\s+{Regex.Escape(rest)}\s*\{{\s*get;"))
                    return $"{declaration.File.RelativePath}: property {rest} of section {section}";
                var reference = $"{declaration.ClassName}.{declaration.ConstantName}";
                var lookup = new Regex($@"(\[""{Regex.Escape(rest)}""\]|""{Regex.Escape(rest)}""|:{Regex.Escape(rest)}"")");
                var reader = Files.FirstOrDefault(f =>
                    (f.Text.Contains(reference, StringComparison.Ordinal) || f == declaration.File || f.Text.Contains($"\"{section}\"", StringComparison.Ordinal))
                    && lookup.IsMatch(f.Text));
                if (reader is not null) return $"{reader.RelativePath}: key {rest} of section {section}";
            }
        }
        return null;
    }

    static IEnumerable<SectionConstant> SectionConstants(SourceFile file) =>
        StringConstant().Matches(file.Text).Select(m => new SectionConstant(file, EnclosingClass(file.Text, m.Index), m.Groups[1].Value, m.Groups[2].Value));

    static string EnclosingClass(string text, int index) =>
        ClassDeclaration().Matches(text[..index]).LastOrDefault()?.Groups[1].Value ?? "";

    static IReadOnlyList<SourceFile> FindFiles() =>
        new[] { "services", "ServiceDefaults" }
            .SelectMany(folder => Directory.GetFiles(Path.Combine(RepositoryPaths.Root, folder), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => new SourceFile(Path.GetRelativePath(RepositoryPaths.Root, f), File.ReadAllText(f)))
            .ToList();

    sealed record SourceFile(string RelativePath, string Text);

    sealed record SectionConstant(SourceFile File, string ClassName, string ConstantName, string Value);

    [GeneratedRegex(@"const\s+string\s+(\w+)\s*=\s*""([A-Za-z][\w:]*)""")]
    private static partial Regex StringConstant();

    [GeneratedRegex(@"\b(?:class|record|struct)\s+(\w+)")]
    private static partial Regex ClassDeclaration();
}
