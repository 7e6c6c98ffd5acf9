using System.Text.Json.Nodes;

namespace MetricAlignment.Contracts.Tests;

/// <summary>The committed schemas in docs/schemas are what the contract records produce, and only ever grow compatibly.</summary>
public sealed class SchemaTests
{
    public static TheoryData<string> PublicMessageNames => new(ContractCatalogue.PublicMessages.Select(type => type.Name));

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void The_committed_schema_is_what_the_contract_type_generates(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var generated = EventSchemas.Generate(type);
        var committed = EventSchemas.ReadCommitted(type);

        if (committed is not null && JsonNode.DeepEquals(committed, generated)) return;

        var breaking = committed is null ? [] : SchemaCompatibility.FindBreakingChanges(committed, generated);
        if (EventSchemas.UpdateRequested && breaking.Count == 0)
        {
            EventSchemas.Write(type, generated);
            return;
        }

        var relative = $"docs/schemas/{EventSchemas.FileName(type)}";
        committed.Should().NotBeNull(
            $"every public message has a committed schema; create {relative} with `{EventSchemas.UpdateVariable}=1 dotnet test tests/Contracts.Tests --filter FullyQualifiedName~SchemaTests` and commit it");
        breaking.Should().BeEmpty(
            $"{relative} may not be regenerated over a breaking change; see docs/event-versioning.md");
        JsonNode.DeepEquals(committed, generated).Should().BeTrue(
            $"{relative} is out of date with contracts/{type.Name}.cs; regenerate it with `{EventSchemas.UpdateVariable}=1 dotnet test tests/Contracts.Tests --filter FullyQualifiedName~SchemaTests` and commit it. Generated now:\n{generated.ToJsonString()}");
    }

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void A_contract_only_adds_optional_properties_to_its_committed_v1_schema(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var committed = EventSchemas.ReadCommitted(type);
        committed.Should().NotBeNull($"docs/schemas/{EventSchemas.FileName(type)} is the baseline of the versioning policy");

        var breaking = SchemaCompatibility.FindBreakingChanges(committed!, EventSchemas.Generate(type));

        breaking.Should().BeEmpty(
            $"{type.Name} {EventSchemas.Version} may only gain optional properties (docs/event-versioning.md); a breaking change ships as a new message type {type.Name}V2 published alongside {type.Name}");
    }

    [Fact]
    public void Every_committed_schema_belongs_to_a_public_message()
    {
        var expected = ContractCatalogue.PublicMessages.Select(EventSchemas.FileName).Append(EventSchemas.EnvelopeFileName);

        var committed = Directory.GetFiles(EventSchemas.Directory, "*.json").Select(Path.GetFileName);

        committed.Should().BeSubsetOf(expected, "a schema without a contract type documents a message nobody sends");
    }

    [Fact]
    public void Generated_schemas_mark_required_properties_and_leave_optional_ones_nullable()
    {
        var schema = EventSchemas.Generate(typeof(AlignmentRunCancelled));

        schema["required"]!.AsArray().Select(node => node!.GetValue<string>())
            .Should().BeEquivalentTo("runId", "metricId", "attempt", "cancelledAt");
        schema["properties"]!["runId"]!["format"]!.GetValue<string>().Should().Be("uuid");
        schema["properties"]!["reason"]!["type"]!.ToJsonString().Should().Be("""["string","null"]""");
        schema["properties"]!["attempt"]!["type"]!.GetValue<string>().Should().Be("integer");
    }
}
