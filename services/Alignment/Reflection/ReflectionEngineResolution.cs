using Microsoft.Extensions.DependencyInjection.Extensions;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Distillation;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>The engine serving a provider name: the built-in distiller for "builtin", the LLM engine otherwise.</summary>
public interface IReflectionEngineResolver
{
    /// <exception cref="ArgumentException">No provider of that name is configured (message fit for the user).</exception>
    IReflectionEngine Resolve(string provider);
}

/// <summary>One <see cref="LlmProvider"/> per configured provider, so each has its own breaker and limits shared by all runs.</summary>
public sealed class LlmProviderRegistry
{
    readonly Dictionary<string, LlmProvider> providers;

    public LlmProviderRegistry(ProviderCatalog catalog, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        providers = catalog.Providers.ToDictionary(
            p => p.Key,
            p => new LlmProvider(p.Key, p.Value, loggerFactory.CreateLogger<LlmProvider>()),
            StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyCollection<LlmProvider> All => providers.Values;

    public LlmProvider Get(string provider) =>
        providers.TryGetValue(provider, out var found)
            ? found
            : throw new ArgumentException($"Unknown LLM provider '{provider}'. Configured: {string.Join(", ", providers.Keys.Select(k => $"'{k}'"))}.");
}

public sealed class ReflectionEngineResolver : IReflectionEngineResolver
{
    readonly Dictionary<string, IReflectionEngine> engines;

    public ReflectionEngineResolver(IEnumerable<IReflectionEngine> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        this.engines = new Dictionary<string, IReflectionEngine>(StringComparer.OrdinalIgnoreCase);
        foreach (var engine in engines) this.engines.TryAdd(engine.Provider, engine);
    }

    public IReflectionEngine Resolve(string provider)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        return engines.TryGetValue(provider.Trim(), out var engine)
            ? engine
            : throw new ArgumentException($"No reflection engine serves provider '{provider}'. Known providers: {string.Join(", ", engines.Keys.Order(StringComparer.OrdinalIgnoreCase).Select(k => $"'{k}'"))}.");
    }
}

public static class ReflectionEngineExtensions
{
    /// <summary>Distils booking any model tokens on the run's meter (the built-in distiller spends none).</summary>
    public static Task<DistillationResult> DistillAsync(this IReflectionEngine engine, DistillationRequest request, RunTokenMeter meter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return engine is LlmReflectionEngine llm
            ? llm.DistillAsync(request, meter, cancellationToken)
            : engine.DistillAsync(request, cancellationToken);
    }
}

public static class ReflectionServiceCollectionExtensions
{
    /// <summary>
    /// Registers the provider catalog (from "Alignment:Providers", "Alignment:DefaultProvider", "Alignment:DefaultModel"),
    /// one LLM reflection engine per configured provider beside the built-in distiller (all as <see cref="IReflectionEngine"/>),
    /// the <see cref="IReflectionEngineResolver"/>, and the <see cref="JudgeVerifier"/>. A misconfigured provider fails at start.
    /// </summary>
    public static IServiceCollection AddReflectionProviders(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var catalog = ProviderCatalog.FromConfiguration(configuration);
        var reflectionOptions = new ReflectionOptions();
        configuration.GetSection(ReflectionOptions.Section).Bind(reflectionOptions);
        var verificationOptions = new VerificationOptions();
        configuration.GetSection(VerificationOptions.Section).Bind(verificationOptions);

        services.AddSingleton(catalog);
        services.AddSingleton(reflectionOptions);
        services.AddSingleton(verificationOptions);
        services.AddSingleton<LlmProviderRegistry>();
        services.AddSingleton<BuiltInDistiller>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IReflectionEngine, BuiltInDistiller>(sp => sp.GetRequiredService<BuiltInDistiller>()));
        foreach (var name in catalog.Providers.Keys)
            services.AddSingleton<IReflectionEngine>(sp => new LlmReflectionEngine(
                sp.GetRequiredService<LlmProviderRegistry>().Get(name), catalog, reflectionOptions, sp.GetRequiredService<ILogger<LlmReflectionEngine>>()));
        services.AddSingleton<IReflectionEngineResolver, ReflectionEngineResolver>();
        services.AddSingleton<JudgeVerifier>();
        return services;
    }
}
