using k8s;

namespace MetricAlignment.Deployment.Tests;

/// <summary>The files under deploy/ as committed, before kustomize.</summary>
public sealed class DeployFilesTests
{
    [Fact]
    public void Every_manifest_and_patch_file_is_a_well_formed_kubernetes_object()
    {
        var files = Directory.GetFiles(Kustomize.DeployRoot, "*.yaml", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "kustomization.yaml")
            .ToList();

        files.Should().HaveCountGreaterThan(10);
        foreach (var file in files)
        {
            // Strict: an unknown or misplaced field is an error, as `kubectl apply --validate=strict` would make it.
            var load = () => KubernetesYaml.LoadAllFromString(File.ReadAllText(file), strict: true);
            load.Should().NotThrow(file).Which.Should().NotBeEmpty(file);
        }
    }

    [Fact]
    public void The_production_secret_examples_name_exactly_the_keys_of_the_base_secrets()
    {
        var baseSecrets = Path.Combine(Kustomize.DeployRoot, "base", "secrets");
        var examples = Directory.GetFiles(Path.Combine(Kustomize.DeployRoot, "overlays", "production", "secrets"), "*.env.example");

        examples.Select(e => Path.GetFileName(e)[..^".example".Length]).Should()
            .BeEquivalentTo(Directory.GetFiles(baseSecrets, "*.env").Select(Path.GetFileName));
        foreach (var example in examples)
        {
            var basis = Path.Combine(baseSecrets, Path.GetFileName(example)[..^".example".Length]);
            Keys(example).Should().BeEquivalentTo(Keys(basis), Path.GetFileName(example));
        }
    }

    [Fact]
    public void Production_refuses_to_render_without_the_operators_secret_files()
    {
        var copy = Kustomize.CopyOfDeployWithExampleSecrets(withSecretFiles: false);
        try
        {
            var result = Kustomize.Build(Path.Combine(copy, "overlays", "production"));

            result.ExitCode.Should().NotBe(0, "the base's placeholders must never reach production");
            result.StandardError.Should().Contain("secrets/");
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public void The_real_production_secret_files_are_ignored_by_git()
    {
        var ignore = File.ReadAllLines(Path.Combine(Kustomize.DeployRoot, "overlays", "production", ".gitignore"));

        ignore.Should().Contain("secrets/*.env");
    }

    static IEnumerable<string> Keys(string envFile) =>
        File.ReadAllLines(envFile)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l[..l.IndexOf('=')]);
}
