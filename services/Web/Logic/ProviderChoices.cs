using MetricAlignment.Web.Clients;

namespace MetricAlignment.Web.Logic;

/// <summary>
/// What the start dialog offers and says about providers and models, from the Alignment service's configuration
/// (GET /api/alignment-providers) rather than from what this front end assumes the default to be.
/// </summary>
public static class ProviderChoices
{
    public const string BuiltIn = "builtin";

    /// <summary>The default as the dialog names it: "builtin", or "local / qwen2".</summary>
    public static string DefaultName(AlignmentProviders providers) =>
        providers.DefaultModel is { Length: > 0 } model ? $"{providers.DefaultProvider} / {model}" : providers.DefaultProvider;

    public static bool DefaultIsBuiltIn(AlignmentProviders providers) =>
        string.Equals(providers.DefaultProvider, BuiltIn, StringComparison.OrdinalIgnoreCase);

    /// <summary>The provider a run gets for what is typed: the default when the field is blank.</summary>
    public static AlignmentProvider? Effective(AlignmentProviders? providers, string? typed) =>
        providers?.Find(string.IsNullOrWhiteSpace(typed) ? providers.DefaultProvider : typed.Trim());

    /// <summary>Models worth suggesting for the provider typed (or the default one): its allowed models, else its default model.</summary>
    public static IReadOnlyList<string> Models(AlignmentProviders? providers, string? typedProvider) =>
        Effective(providers, typedProvider) switch
        {
            null => [],
            { Models.Count: > 0 } provider => provider.Models,
            { DefaultModel: { Length: > 0 } model } => [model],
            _ => [],
        };

    /// <summary>The model field's placeholder: what a blank model will mean for the provider typed.</summary>
    public static string ModelPlaceholder(AlignmentProviders? providers, string? typedProvider) =>
        Effective(providers, typedProvider) switch
        {
            null => "provider default",
            { Name: var name } when string.Equals(name, BuiltIn, StringComparison.OrdinalIgnoreCase) => "none (builtin)",
            { DefaultModel: { Length: > 0 } model } => model,
            _ => "required: this provider has no default",
        };

    /// <summary>Providers that can score rows, for the judge field (builtin cannot).</summary>
    public static IReadOnlyList<AlignmentProvider> Judges(AlignmentProviders? providers) =>
        providers?.Providers.Where(p => p.CanJudge).ToList() ?? [];

    /// <summary>The judge provider field's placeholder: a blank judge provider means the platform default provider.</summary>
    public static string JudgePlaceholder(AlignmentProviders? providers) =>
        providers is null ? "default provider"
        : DefaultIsBuiltIn(providers) ? "an LLM provider"
        : $"{providers.DefaultProvider} (default)";
}
