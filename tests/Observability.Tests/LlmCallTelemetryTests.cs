extern alias alignment;

using System.Diagnostics;
using alignment::MetricAlignment.Alignment.Reflection;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace MetricAlignment.Observability.Tests;

public sealed class Model_call_telemetry
{
    const string ApiKey = "sk-observability-secret-key";

    static ModelCall Call(string model) => new()
    {
        Model = model, Phase = "reflection.batch", SystemPrompt = "You refine rubrics.", UserPrompt = "Explain the disagreements.",
        SchemaName = "answer", Schema = BinaryData.FromString("""{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}"""),
    };

    [Fact]
    public async Task A_model_call_is_a_span_with_provider_model_and_tokens_and_is_counted_without_the_api_key()
    {
        using var spans = new SpanCollector();
        using var measurements = new MeasurementCollector();
        await using var server = await ScriptedOpenAiServer.StartAsync(_ => ScriptedResponse.Completion("""{"ok":true}""", promptTokens: 900, completionTokens: 120));
        var provider = $"scripted-{Guid.NewGuid():N}";
        var llm = new LlmProvider(provider, new ProviderOptions { Endpoint = server.Endpoint, ApiKey = ApiKey, MaxRetries = 0 }, NullLogger<LlmProvider>.Instance);

        await llm.CompleteAsync(Call("gpt-4o-mini"), new RunTokenMeter(), CancellationToken.None);

        var span = await spans.WaitForAsync(s => s.OperationName == "llm.chat" && s.GetTagItem("gen_ai.provider.name") as string == provider, "the model call");
        span.Kind.Should().Be(ActivityKind.Client);
        span.GetTagItem("gen_ai.request.model").Should().Be("gpt-4o-mini");
        span.GetTagItem("gen_ai.usage.input_tokens").Should().Be(900L);
        span.GetTagItem("gen_ai.usage.output_tokens").Should().Be(120L);
        span.Status.Should().NotBe(ActivityStatusCode.Error);
        spans.Spans.SelectMany(s => s.TagObjects).Should().NotContain(t => t.Value != null && t.Value.ToString()!.Contains(ApiKey));

        var tokens = measurements.Of("llm.tokens").Where(m => Equals(m.Tags[Telemetry.Tags.Provider], provider)).ToList();
        tokens.Should().ContainSingle(m => Equals(m.Tags[Telemetry.Tags.Kind], "prompt")).Which.Value.Should().Be(900);
        tokens.Should().ContainSingle(m => Equals(m.Tags[Telemetry.Tags.Kind], "completion")).Which.Value.Should().Be(120);
        tokens.Should().AllSatisfy(m => m.Tags[Telemetry.Tags.Model].Should().Be("gpt-4o-mini"));
        measurements.Of("llm.call.duration").Should().ContainSingle(m => Equals(m.Tags[Telemetry.Tags.Provider], provider));
    }

    [Fact]
    public async Task A_failed_model_call_ends_its_span_as_an_error()
    {
        using var spans = new SpanCollector();
        await using var server = await ScriptedOpenAiServer.StartAsync(_ => ScriptedResponse.Error(400, "bad request"));
        var provider = $"scripted-{Guid.NewGuid():N}";
        var llm = new LlmProvider(provider, new ProviderOptions { Endpoint = server.Endpoint, MaxRetries = 0 }, NullLogger<LlmProvider>.Instance);

        var call = () => llm.CompleteAsync(Call("gpt-4o-mini"), new RunTokenMeter(), CancellationToken.None);

        await call.Should().ThrowAsync<ReflectionFailedException>();
        var span = await spans.WaitForAsync(s => s.OperationName == "llm.chat" && s.GetTagItem("gen_ai.provider.name") as string == provider, "the model call");
        span.Status.Should().Be(ActivityStatusCode.Error);
    }
}
