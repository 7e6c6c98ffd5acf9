using System.Text.Json.Nodes;

namespace MetricAlignment.Contracts.Tests;

/// <summary>The versioning check on pairs of records: the committed shape (V1) and an edited one.</summary>
public sealed class SchemaCompatibilityTests
{
    sealed record Committed
    {
        public required Guid RunId { get; init; }
        public required int Attempt { get; init; }
        public string? Reason { get; init; }
    }

    sealed record AddsOptionalProperty
    {
        public required Guid RunId { get; init; }
        public required int Attempt { get; init; }
        public string? Reason { get; init; }
        public long? TotalTokens { get; init; }
        public IReadOnlyDictionary<string, long>? TokensPerPhase { get; init; }
    }

    sealed record RemovesProperty
    {
        public required Guid RunId { get; init; }
        public string? Reason { get; init; }
    }

    sealed record RenamesProperty
    {
        public required Guid RunId { get; init; }
        public required int AttemptNumber { get; init; }
        public string? Reason { get; init; }
    }

    sealed record ChangesType
    {
        public required Guid RunId { get; init; }
        public required string Attempt { get; init; }
        public string? Reason { get; init; }
    }

    sealed record MakesOptionalRequired
    {
        public required Guid RunId { get; init; }
        public required int Attempt { get; init; }
        public required string Reason { get; init; }
    }

    sealed record AddsRequiredProperty
    {
        public required Guid RunId { get; init; }
        public required int Attempt { get; init; }
        public string? Reason { get; init; }
        public required string Phase { get; init; }
    }

    static IReadOnlyList<string> Changes<TEdited>() =>
        SchemaCompatibility.FindBreakingChanges(EventSchemas.Generate(typeof(Committed)), EventSchemas.Generate(typeof(TEdited)));

    [Fact]
    public void Adding_optional_properties_is_compatible() =>
        Changes<AddsOptionalProperty>().Should().BeEmpty();

    [Fact]
    public void Removing_a_property_is_breaking() =>
        Changes<RemovesProperty>().Should().ContainSingle().Which.Should().Contain("$.attempt was removed or renamed");

    [Fact]
    public void Renaming_a_property_is_breaking() =>
        Changes<RenamesProperty>().Should().Contain(change => change.Contains("$.attempt was removed or renamed"))
            .And.Contain(change => change.Contains("$.attemptNumber was added as a required property"));

    [Fact]
    public void Changing_a_property_type_is_breaking() =>
        Changes<ChangesType>().Should().ContainSingle().Which.Should().Contain("$.attempt changed its type");

    [Fact]
    public void Making_an_optional_property_required_is_breaking() =>
        Changes<MakesOptionalRequired>().Should().Contain(change => change.Contains("$.reason was optional and is now required"));

    [Fact]
    public void Adding_a_required_property_is_breaking() =>
        Changes<AddsRequiredProperty>().Should().ContainSingle().Which.Should().Contain("$.phase was added as a required property");

    [Fact]
    public void Adding_a_required_property_breaks_senders_but_not_consumers() =>
        SchemaCompatibility.FindConsumerBreakingChanges(EventSchemas.Generate(typeof(Committed)), EventSchemas.Generate(typeof(AddsRequiredProperty)))
            .Should().BeEmpty("a consumer receives the new property and ignores it");

    [Fact]
    public void Making_an_optional_property_required_breaks_senders_but_not_consumers() =>
        SchemaCompatibility.FindConsumerBreakingChanges(EventSchemas.Generate(typeof(Committed)), EventSchemas.Generate(typeof(MakesOptionalRequired)))
            .Should().BeEmpty("a consumer already handles the property present");

    [Fact]
    public void Removing_renaming_or_retyping_a_property_breaks_consumers()
    {
        var committed = EventSchemas.Generate(typeof(Committed));

        SchemaCompatibility.FindConsumerBreakingChanges(committed, EventSchemas.Generate(typeof(RemovesProperty)))
            .Should().ContainSingle().Which.Should().Contain("$.attempt was removed or renamed");
        SchemaCompatibility.FindConsumerBreakingChanges(committed, EventSchemas.Generate(typeof(RenamesProperty)))
            .Should().ContainSingle().Which.Should().Contain("$.attempt was removed or renamed");
        SchemaCompatibility.FindConsumerBreakingChanges(committed, EventSchemas.Generate(typeof(ChangesType)))
            .Should().ContainSingle().Which.Should().Contain("$.attempt changed its type");
    }

    [Fact]
    public void Adding_a_property_inside_a_nested_object_is_compared_property_by_property()
    {
        var committed = JsonNode.Parse("""{"type":"object","properties":{"row":{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}}}""")!.AsObject();
        var widened = JsonNode.Parse("""{"type":"object","properties":{"row":{"type":"object","properties":{"id":{"type":"string"},"note":{"type":["string","null"]}},"required":["id"]}}}""")!.AsObject();
        var narrowed = JsonNode.Parse("""{"type":"object","properties":{"row":{"type":"object","properties":{"note":{"type":["string","null"]}}}}}""")!.AsObject();

        SchemaCompatibility.FindBreakingChanges(committed, widened).Should().BeEmpty();
        SchemaCompatibility.FindBreakingChanges(committed, narrowed).Should().Contain("$.row.id was removed or renamed");
    }
}
