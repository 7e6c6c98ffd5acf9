using k8s;
using k8s.Models;
using MetricAlignment.TestSupport;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// Renders deploy/ with kustomize as kubectl does (`kubectl kustomize`, the same engine as `kubectl apply -k`; kubectl
/// is part of the dotnet machine image), then reads the result with the Kubernetes client's own models in strict
/// mode, so that a misspelt or misplaced field fails here rather than being dropped by the API server.
/// </summary>
public static class Kustomize
{
    public static string DeployRoot => Path.Combine(RepositoryPaths.Root, "deploy");

    public static ProcessResult Build(string directory)
    {
        var kubectl = ProcessRunner.Find("kubectl") ?? throw new InvalidOperationException(
            "kubectl is not on PATH: the deployment tests render the manifests with `kubectl kustomize`.");
        return ProcessRunner.Run(kubectl, ["kustomize", directory], directory, TimeSpan.FromMinutes(2));
    }

    public static RenderedManifests Render(string name, string directory)
    {
        var result = Build(directory);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"kubectl kustomize {directory} failed ({result.ExitCode}): {result.StandardError}");
        return new RenderedManifests(name, KubernetesYaml.LoadAllFromString(result.StandardOutput, strict: true));
    }

    /// <summary>
    /// The production overlay as an operator renders it: a copy of deploy/ in which each secrets/*.env.example has been
    /// copied to the .env file the overlay reads (the real files are not in the repository).
    /// </summary>
    public static string CopyOfDeployWithExampleSecrets(bool withSecretFiles)
    {
        var copy = Path.Combine(Path.GetTempPath(), "metric-alignment-deploy-" + Guid.NewGuid().ToString("N"));
        foreach (var file in Directory.GetFiles(DeployRoot, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(DeployRoot, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            // A deployer's real secrets may sit in the working tree; the copy never carries them.
            if (file.EndsWith(".env", StringComparison.Ordinal) && file.Contains(Path.Combine("production", "secrets"))) continue;
            File.Copy(file, target);
        }
        if (withSecretFiles)
        {
            foreach (var example in Directory.GetFiles(Path.Combine(copy, "overlays", "production", "secrets"), "*.env.example"))
                File.Copy(example, example[..^".example".Length]);
        }
        return copy;
    }
}

public sealed class RenderedManifests(string name, IReadOnlyList<object> objects)
{
    public string Name { get; } = name;
    public IReadOnlyList<object> Objects { get; } = objects;

    public IEnumerable<V1Deployment> Deployments => Objects.OfType<V1Deployment>();
    public IEnumerable<V1Service> Services => Objects.OfType<V1Service>();
    public IEnumerable<V1PodDisruptionBudget> DisruptionBudgets => Objects.OfType<V1PodDisruptionBudget>();
    public IEnumerable<V2HorizontalPodAutoscaler> Autoscalers => Objects.OfType<V2HorizontalPodAutoscaler>();
    public IEnumerable<V1ConfigMap> ConfigMaps => Objects.OfType<V1ConfigMap>();
    public IEnumerable<V1Secret> Secrets => Objects.OfType<V1Secret>();
    public IEnumerable<V1PersistentVolumeClaim> PersistentVolumeClaims => Objects.OfType<V1PersistentVolumeClaim>();

    public V1Deployment Deployment(string name) =>
        Deployments.SingleOrDefault(d => d.Metadata.Name == name)
        ?? throw new InvalidOperationException($"{Name}: no Deployment named {name}.");

    /// <summary>Every environment variable a container gets, with where its value comes from.</summary>
    public IReadOnlyDictionary<string, EnvironmentSource> Environment(V1Container container)
    {
        var variables = new Dictionary<string, EnvironmentSource>();
        foreach (var source in container.EnvFrom ?? [])
        {
            if (source.ConfigMapRef is { } configMapRef)
            {
                var configMap = ConfigMaps.SingleOrDefault(c => c.Metadata.Name == configMapRef.Name);
                foreach (var key in configMap?.Data?.Keys ?? [])
                    variables[(source.Prefix ?? "") + key] = new EnvironmentSource("ConfigMap", configMapRef.Name, configMap!.Data[key]);
            }
            if (source.SecretRef is { } secretRef)
            {
                var secret = Secrets.SingleOrDefault(s => s.Metadata.Name == secretRef.Name);
                foreach (var key in secret?.Data?.Keys ?? [])
                    variables[(source.Prefix ?? "") + key] = new EnvironmentSource("Secret", secretRef.Name, System.Text.Encoding.UTF8.GetString(secret!.Data[key]));
            }
        }
        // Explicit entries win over envFrom, as in Kubernetes.
        foreach (var variable in container.Env ?? [])
        {
            variables[variable.Name] = variable.ValueFrom switch
            {
                { SecretKeyRef: { } s } => new EnvironmentSource("Secret", s.Name, SecretValue(s.Name, s.Key)),
                { ConfigMapKeyRef: { } c } => new EnvironmentSource("ConfigMap", c.Name, ConfigMapValue(c.Name, c.Key)),
                { FieldRef: { } f } => new EnvironmentSource("FieldRef", f.FieldPath, null),
                _ => new EnvironmentSource("Literal", null, variable.Value),
            };
        }
        return variables;
    }

    string? ConfigMapValue(string name, string key)
    {
        var data = ConfigMaps.SingleOrDefault(c => c.Metadata.Name == name)?.Data;
        return data is not null && data.TryGetValue(key, out var value) ? value : null;
    }

    string? SecretValue(string name, string key)
    {
        var data = Secrets.SingleOrDefault(s => s.Metadata.Name == name)?.Data;
        return data is not null && data.TryGetValue(key, out var bytes) ? System.Text.Encoding.UTF8.GetString(bytes) : null;
    }

    public override string ToString() => Name;
}

/// <param name="Kind">Secret, ConfigMap, FieldRef or Literal.</param>
public sealed record EnvironmentSource(string Kind, string? Name, string? Value);

/// <summary>The three renderings every manifest test checks: the base alone, and each overlay.</summary>
public sealed class RenderedOverlays : IDisposable
{
    readonly string productionCopy = Kustomize.CopyOfDeployWithExampleSecrets(withSecretFiles: true);

    public RenderedOverlays()
    {
        All = new Dictionary<string, RenderedManifests>
        {
            ["base"] = Kustomize.Render("base", Path.Combine(Kustomize.DeployRoot, "base")),
            ["dev"] = Kustomize.Render("dev", Path.Combine(Kustomize.DeployRoot, "overlays", "dev")),
            ["production"] = Kustomize.Render("production", Path.Combine(productionCopy, "overlays", "production")),
        };
    }

    public IReadOnlyDictionary<string, RenderedManifests> All { get; }

    public RenderedManifests this[string name] => All[name];

    public void Dispose() => Directory.Delete(productionCopy, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class RenderedOverlaysCollection : ICollectionFixture<RenderedOverlays>, ICollectionFixture<ContainerSettings>
{
    public const string Name = "Rendered deploy/";
}
