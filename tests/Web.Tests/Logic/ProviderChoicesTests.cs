using MetricAlignment.Web.Clients;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class ProviderChoicesTests
{
    static readonly AlignmentProvider BuiltIn = new() { Name = "builtin" };
    static readonly AlignmentProvider Local = new() { Name = "local", DefaultModel = "qwen2", Models = ["llama3", "qwen2"], CanJudge = true };
    static readonly AlignmentProvider Hosted = new() { Name = "hosted", DefaultModel = "gpt-4o-mini", CanJudge = true };
    static readonly AlignmentProvider Bare = new() { Name = "bare", CanJudge = true };

    static AlignmentProviders Configured(string defaultProvider, string? defaultModel) =>
        new() { DefaultProvider = defaultProvider, DefaultModel = defaultModel, Providers = [BuiltIn, Bare, Hosted, Local] };

    [Fact]
    public void The_default_is_named_as_the_service_configures_it()
    {
        ProviderChoices.DefaultName(Configured("builtin", null)).Should().Be("builtin");
        ProviderChoices.DefaultIsBuiltIn(Configured("builtin", null)).Should().BeTrue();
        ProviderChoices.DefaultName(Configured("local", "qwen2")).Should().Be("local / qwen2");
        ProviderChoices.DefaultIsBuiltIn(Configured("local", "qwen2")).Should().BeFalse();
    }

    [Fact]
    public void A_blank_provider_suggests_and_explains_the_default_providers_models()
    {
        var providers = Configured("local", "qwen2");

        ProviderChoices.Models(providers, " ").Should().Equal("llama3", "qwen2");
        ProviderChoices.ModelPlaceholder(providers, null).Should().Be("qwen2");
    }

    [Fact]
    public void The_model_placeholder_says_what_a_blank_model_means_for_the_typed_provider()
    {
        var providers = Configured("builtin", null);

        ProviderChoices.ModelPlaceholder(providers, null).Should().Be("none (builtin)");
        ProviderChoices.ModelPlaceholder(providers, "HOSTED").Should().Be("gpt-4o-mini", "provider names are case-insensitive");
        ProviderChoices.Models(providers, "hosted").Should().Equal("gpt-4o-mini");
        ProviderChoices.ModelPlaceholder(providers, "bare").Should().StartWith("required");
        ProviderChoices.ModelPlaceholder(providers, "unknown").Should().Be("provider default");
        ProviderChoices.ModelPlaceholder(null, "local").Should().Be("provider default");
        ProviderChoices.Models(providers, "unknown").Should().BeEmpty();
    }

    [Fact]
    public void Only_providers_that_can_score_rows_are_offered_as_judges()
    {
        ProviderChoices.Judges(Configured("builtin", null)).Select(p => p.Name).Should().Equal("bare", "hosted", "local");
        ProviderChoices.JudgePlaceholder(Configured("builtin", null)).Should().Be("an LLM provider");
        ProviderChoices.JudgePlaceholder(Configured("local", "qwen2")).Should().Be("local (default)");
        ProviderChoices.Judges(null).Should().BeEmpty();
    }
}
