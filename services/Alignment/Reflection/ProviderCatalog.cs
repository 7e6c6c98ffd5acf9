using Microsoft.Extensions.Options;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>A provider and model a run may use, with the defaults filled in.</summary>
public sealed record ProviderSelection(string Provider, string? Model)
{
    public bool IsBuiltIn => string.Equals(Provider, ProviderCatalog.BuiltIn, StringComparison.OrdinalIgnoreCase);
}

/// <summary>Why a (provider, model) was refused: the request field to blame and a message fit for a 400 field error.</summary>
public sealed record ProviderSelectionError(string Field, string Message);

/// <summary>
/// The providers configured under "Alignment:Providers:&lt;name&gt;" plus the built-in distiller, and the defaults
/// "Alignment:DefaultProvider" (builtin unless set) and "Alignment:DefaultModel". Misconfiguration fails at start;
/// an unknown or disallowed (provider, model) in a request gets a readable error.
/// </summary>
public sealed class ProviderCatalog
{
    public const string BuiltIn = "builtin";
    public const string ProvidersSection = "Alignment:Providers";

    readonly Dictionary<string, ProviderOptions> providers;

    public ProviderCatalog(IReadOnlyDictionary<string, ProviderOptions> providers, string? defaultProvider = null, string? defaultModel = null)
    {
        ArgumentNullException.ThrowIfNull(providers);
        this.providers = new Dictionary<string, ProviderOptions>(providers, StringComparer.OrdinalIgnoreCase);
        DefaultProvider = string.IsNullOrWhiteSpace(defaultProvider) ? BuiltIn : defaultProvider.Trim();
        DefaultModel = string.IsNullOrWhiteSpace(defaultModel) ? null : defaultModel.Trim();

        var errors = new List<string>();
        foreach (var (name, options) in this.providers)
            errors.AddRange(ConfigurationErrors(name, options));
        if (!IsKnown(DefaultProvider))
            errors.Add($"Alignment:DefaultProvider names '{DefaultProvider}', which is neither '{BuiltIn}' nor a provider under {ProvidersSection}.");
        if (errors.Count > 0) throw new OptionsValidationException(ProvidersSection, typeof(ProviderOptions), errors);
    }

    public static ProviderCatalog FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var providers = new Dictionary<string, ProviderOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in configuration.GetSection(ProvidersSection).GetChildren())
        {
            var options = new ProviderOptions();
            section.Bind(options);
            providers[section.Key] = options;
        }
        return new ProviderCatalog(providers, configuration["Alignment:DefaultProvider"], configuration["Alignment:DefaultModel"]);
    }

    public string DefaultProvider { get; }
    public string? DefaultModel { get; }

    /// <summary>builtin first, then the configured providers by name.</summary>
    public IReadOnlyList<string> ProviderNames =>
        [BuiltIn, .. providers.Keys.Where(k => !string.Equals(k, BuiltIn, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.OrdinalIgnoreCase)];

    public IReadOnlyDictionary<string, ProviderOptions> Providers => providers;

    public bool IsKnown(string provider) =>
        string.Equals(provider, BuiltIn, StringComparison.OrdinalIgnoreCase) || providers.ContainsKey(provider);

    public ProviderOptions Options(string provider) =>
        providers.TryGetValue(provider, out var options)
            ? options
            : throw new ArgumentException($"No provider named '{provider}' is configured under {ProvidersSection}.", nameof(provider));

    /// <summary>
    /// Resolves a request's (provider, model) against the catalog: blanks take the defaults. Returns the selection or
    /// the error to report on <paramref name="providerField"/> or <paramref name="modelField"/>.
    /// </summary>
    public (ProviderSelection? Selection, ProviderSelectionError? Error) Select(string? provider, string? model,
        string providerField = "reflectionProvider", string modelField = "reflectionModel")
    {
        var name = string.IsNullOrWhiteSpace(provider) ? DefaultProvider : provider.Trim();
        var requestedModel = string.IsNullOrWhiteSpace(model) ? null : model.Trim();
        if (string.Equals(name, BuiltIn, StringComparison.OrdinalIgnoreCase))
            return requestedModel is null
                ? (new ProviderSelection(BuiltIn, null), null)
                : (null, new ProviderSelectionError(modelField, $"The '{BuiltIn}' provider is the deterministic distiller and takes no model; leave the model empty or choose an LLM provider."));
        if (!providers.TryGetValue(name, out var options))
            return (null, new ProviderSelectionError(providerField,
                $"Unknown provider '{name}'. Known providers: {string.Join(", ", ProviderNames.Select(n => $"'{n}'"))}."));

        var canonicalName = providers.Keys.First(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
        var resolvedModel = requestedModel
            ?? (string.IsNullOrWhiteSpace(options.DefaultModel) ? null : options.DefaultModel.Trim())
            ?? (string.Equals(canonicalName, DefaultProvider, StringComparison.OrdinalIgnoreCase) ? DefaultModel : null);
        if (resolvedModel is null)
            return (null, new ProviderSelectionError(modelField,
                $"Provider '{canonicalName}' has no default model: name a model, or set {ProvidersSection}:{canonicalName}:DefaultModel."));
        var allowed = options.AllowedModels.Where(m => !string.IsNullOrWhiteSpace(m)).Select(m => m.Trim()).ToList();
        if (allowed.Count > 0 && !allowed.Contains(resolvedModel, StringComparer.OrdinalIgnoreCase))
            return (null, new ProviderSelectionError(modelField,
                $"Model '{resolvedModel}' is not allowed for provider '{canonicalName}'. Allowed models: {string.Join(", ", allowed.Select(m => $"'{m}'"))}."));
        return (new ProviderSelection(canonicalName, resolvedModel), null);
    }

    /// <summary>As <see cref="Select"/>, throwing the readable error: for callers past the API's validation (the worker).</summary>
    public ProviderSelection Require(string? provider, string? model)
    {
        var (selection, error) = Select(provider, model);
        return selection ?? throw new ArgumentException(error!.Message);
    }

    static IEnumerable<string> ConfigurationErrors(string name, ProviderOptions options)
    {
        var prefix = $"{ProvidersSection}:{name}";
        if (string.Equals(name, BuiltIn, StringComparison.OrdinalIgnoreCase))
            yield return $"'{BuiltIn}' is reserved for the deterministic distiller and cannot be configured under {ProvidersSection}.";
        var kind = ProviderOptions.ParseKind(options.Kind);
        if (kind is null)
            yield return $"{prefix}:Kind is '{options.Kind}'; expected openai, azure-openai or openai-compatible.";
        if (options.Endpoint is null && kind is not ProviderKind.OpenAI)
            yield return $"{prefix}:Endpoint is required for kind '{options.Kind}' (e.g. http://localhost:11434/v1 for Ollama).";
        if (options.Endpoint is { IsAbsoluteUri: false } || options.Endpoint is { Scheme: not ("http" or "https") })
            yield return $"{prefix}:Endpoint must be an absolute http(s) URL.";
        if (kind is ProviderKind.OpenAI or ProviderKind.AzureOpenAI && string.IsNullOrWhiteSpace(options.ResolveApiKey()))
            yield return $"{prefix} needs an API key: set {prefix}:ApiKey (e.g. through the environment variable {prefix.Replace(":", "__", StringComparison.Ordinal)}__ApiKey) or ApiKeyEnvironmentVariable.";
        if (options.MaxConcurrency < 1) yield return $"{prefix}:MaxConcurrency must be at least 1.";
        if (options.RequestsPerMinute < 0) yield return $"{prefix}:RequestsPerMinute must be 0 (no limit) or more.";
        if (options.TimeoutSeconds <= 0) yield return $"{prefix}:TimeoutSeconds must be positive.";
        if (options.MaxRetries < 0) yield return $"{prefix}:MaxRetries cannot be negative.";
        if (options.RetryBaseDelaySeconds < 0 || options.MaxRetryAfterSeconds < 0) yield return $"{prefix}: retry delays cannot be negative.";
        if (options.BreakerFailureRatio is <= 0 or > 1) yield return $"{prefix}:BreakerFailureRatio must be in (0, 1].";
        if (options.BreakerMinimumThroughput < 2) yield return $"{prefix}:BreakerMinimumThroughput must be at least 2.";
        if (options.BreakerSamplingSeconds < 0.5 || options.BreakerBreakSeconds < 0.5) yield return $"{prefix}: breaker durations must be at least 0.5 seconds.";
    }
}
