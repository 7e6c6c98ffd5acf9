using MetricAlignment.Alignment.Reflection;

namespace MetricAlignment.Alignment.Api;

/// <summary>A provider a run may name, as a caller needs to choose one: never its endpoint or key.</summary>
public sealed record AlignmentProviderResponse
{
    public required string Name { get; init; }
    /// <summary>The model used when a run names this provider but no model; null for builtin, or when a model must be named.</summary>
    public string? DefaultModel { get; init; }
    /// <summary>The only models this provider accepts; empty when any model is accepted.</summary>
    public required IReadOnlyList<string> Models { get; init; }
    /// <summary>False for builtin: the deterministic distiller cannot score rows, so it cannot be the judge.</summary>
    public required bool CanJudge { get; init; }
}

/// <summary>What a blank provider and model mean in a start request, and the providers a request may name.</summary>
public sealed record AlignmentProvidersResponse
{
    public required string DefaultProvider { get; init; }
    /// <summary>The model a run gets when it names neither provider nor model; null when the default is builtin.</summary>
    public string? DefaultModel { get; init; }
    /// <summary>builtin first, then the configured providers by name.</summary>
    public required IReadOnlyList<AlignmentProviderResponse> Providers { get; init; }
}

public static class ProvidersApi
{
    /// <summary>
    /// GET /api/alignment-providers: the platform defaults and the choosable providers, so that a start dialog can name the
    /// default instead of guessing it. Any role may read it (the fallback policy): it carries names and models only.
    /// </summary>
    public static IEndpointRouteBuilder MapAlignmentProviderEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/alignment-providers", (ProviderCatalog catalog) => Results.Ok(Describe(catalog)))
            .WithTags("Alignment runs").WithName("ListAlignmentProviders").Produces<AlignmentProvidersResponse>();
        return app;
    }

    public static AlignmentProvidersResponse Describe(ProviderCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var providers = catalog.ProviderNames.Select(name =>
        {
            var builtIn = string.Equals(name, ProviderCatalog.BuiltIn, StringComparison.OrdinalIgnoreCase);
            var models = builtIn
                ? []
                : catalog.Options(name).AllowedModels.Where(m => !string.IsNullOrWhiteSpace(m)).Select(m => m.Trim())
                    .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
            return new AlignmentProviderResponse
            {
                Name = name,
                // The model the catalog itself resolves a blank model to, so the answer cannot drift from what a start would use.
                DefaultModel = builtIn ? null : catalog.Select(name, null).Selection?.Model,
                Models = models,
                CanJudge = !builtIn,
            };
        }).ToList();
        var (defaultSelection, _) = catalog.Select(null, null);
        return new AlignmentProvidersResponse
        {
            DefaultProvider = defaultSelection?.Provider ?? catalog.DefaultProvider,
            DefaultModel = defaultSelection?.Model,
            Providers = providers,
        };
    }
}
