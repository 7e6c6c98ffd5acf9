using MetricAlignment.Alignment.Distillation;
using MetricAlignment.Alignment.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Alignment.Tests.Reflection;

public sealed class ProviderCatalogTests
{
    static ProviderCatalog Catalog(Dictionary<string, string?> settings) =>
        ProviderCatalog.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

    static readonly Dictionary<string, string?> Settings = new()
    {
        ["Alignment:Providers:openai:Kind"] = "openai",
        ["Alignment:Providers:openai:ApiKey"] = "sk-live-TOPSECRET",
        ["Alignment:Providers:openai:DefaultModel"] = "gpt-4o-mini",
        ["Alignment:Providers:openai:AllowedModels:0"] = "gpt-4o-mini",
        ["Alignment:Providers:openai:AllowedModels:1"] = "gpt-4.1",
        ["Alignment:Providers:ollama:Endpoint"] = "http://localhost:11434/v1",
    };

    [Fact]
    public void Without_configuration_the_default_provider_is_the_builtin_distiller()
    {
        var catalog = Catalog([]);

        catalog.DefaultProvider.Should().Be("builtin");
        catalog.Select(null, null).Selection.Should().Be(new ProviderSelection("builtin", null));
        catalog.ProviderNames.Should().Equal("builtin");
    }

    [Fact]
    public void A_provider_takes_its_default_model_and_names_are_case_insensitive()
    {
        Catalog(Settings).Select("OpenAI", null).Selection.Should().Be(new ProviderSelection("openai", "gpt-4o-mini"));
    }

    [Fact]
    public void An_unknown_provider_is_refused_with_the_known_ones_listed()
    {
        var (selection, error) = Catalog(Settings).Select("anthropic", null);

        selection.Should().BeNull();
        error.Should().Be(new ProviderSelectionError("reflectionProvider", "Unknown provider 'anthropic'. Known providers: 'builtin', 'ollama', 'openai'."));
    }

    [Fact]
    public void A_model_outside_the_allowed_list_is_refused()
    {
        var (_, error) = Catalog(Settings).Select("openai", "o3-pro", "judgeProvider", "judgeModel");

        error!.Field.Should().Be("judgeModel");
        error.Message.Should().Be("Model 'o3-pro' is not allowed for provider 'openai'. Allowed models: 'gpt-4o-mini', 'gpt-4.1'.");
    }

    [Fact]
    public void A_provider_without_a_default_model_needs_one_named()
    {
        var (_, error) = Catalog(Settings).Select("ollama", null);

        error!.Message.Should().Contain("Provider 'ollama' has no default model");
        Catalog(Settings).Select("ollama", "llama3.1:8b").Selection.Should().Be(new ProviderSelection("ollama", "llama3.1:8b"));
    }

    [Fact]
    public void A_misconfigured_provider_fails_at_start_without_revealing_its_key()
    {
        var settings = new Dictionary<string, string?>(Settings)
        {
            ["Alignment:Providers:azure:Kind"] = "azure-openai",
            ["Alignment:Providers:azure:ApiKey"] = "azure-TOPSECRET",
            ["Alignment:Providers:vllm:Kind"] = "grpc",
            ["Alignment:Providers:vllm:Endpoint"] = "http://localhost:8000/v1",
        };

        var act = () => Catalog(settings);

        var failure = act.Should().Throw<OptionsValidationException>().Which;
        failure.Failures.Should().Contain(f => f.Contains("Alignment:Providers:azure:Endpoint is required"))
            .And.Contain(f => f.Contains("Alignment:Providers:vllm:Kind is 'grpc'"));
        failure.Message.Should().NotContain("TOPSECRET");
    }

    [Fact]
    public void Provider_options_never_print_their_key()
    {
        Catalog(Settings).Options("openai").ToString().Should().Contain("ApiKey=[redacted]").And.NotContain("TOPSECRET");
    }

    [Fact]
    public void The_resolver_serves_the_builtin_distiller_and_an_llm_engine_per_configured_provider()
    {
        using var stack = new ReflectionStack(new Uri("http://127.0.0.1:9/v1/"));

        stack.Resolver.Resolve("builtin").Should().BeOfType<BuiltInDistiller>();
        stack.Resolver.Resolve("LOCAL").Should().BeOfType<LlmReflectionEngine>().Which.Provider.Should().Be("local");
        var act = () => stack.Resolver.Resolve("nope");
        act.Should().Throw<ArgumentException>().WithMessage("No reflection engine serves provider 'nope'. Known providers: 'builtin', 'local'.");
    }
}
