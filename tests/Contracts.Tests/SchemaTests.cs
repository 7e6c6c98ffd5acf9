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
    public void A_contract_only_adds_optional_properties_to_its_committed_schema_of_the_current_major(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var committed = EventSchemas.ReadCommitted(type);
        committed.Should().NotBeNull($"docs/schemas/{EventSchemas.FileName(type)} is the baseline of the versioning policy for this major");

        var breaking = SchemaCompatibility.FindBreakingChanges(committed!, EventSchemas.Generate(type));

        breaking.Should().BeEmpty(
            $"{type.Name} {EventSchemas.Version} may only gain optional properties (docs/event-versioning.md); a change that breaks consumers ships as a new message type {type.Name}V2 published alongside {type.Name}, one that breaks only senders needs a new major version of the package");
    }

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void A_new_major_version_keeps_everything_consumers_of_the_previous_major_read(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var current = EventSchemas.ReadCommitted(type);
        current.Should().NotBeNull();

        // Only the sender side may break at a major version (a newly required property); a change that breaks consumers
        // ships as a new message type at any version, so consumers on the older major keep working across the upgrade.
        for (var major = EventSchemas.MajorVersion - 1; major >= 1; major--)
        {
            var previous = EventSchemas.ReadCommitted(type, major);
            if (previous is null) continue;
            SchemaCompatibility.FindConsumerBreakingChanges(previous, current!).Should().BeEmpty(
                $"consumers of docs/schemas/{EventSchemas.FileName(type, major)} must be able to read {EventSchemas.FileName(type)} (docs/event-versioning.md)");
        }
    }

    [Fact]
    public void Every_committed_schema_of_the_current_major_belongs_to_a_public_message()
    {
        var expected = ContractCatalogue.PublicMessages.Select(type => EventSchemas.FileName(type)).Append(EventSchemas.EnvelopeFileName);

        var committed = Directory.GetFiles(EventSchemas.Directory, $"*.{EventSchemas.Version}.json").Select(Path.GetFileName)
            .Append(EventSchemas.EnvelopeFileName);

        committed.Should().BeSubsetOf(expected, "a schema without a contract type documents a message nobody sends");
    }

    [Fact]
    public void Every_committed_schema_is_of_a_major_the_package_has_reached_including_the_current_one()
    {
        var versions = Directory.GetFiles(EventSchemas.Directory, "*.json").Select(file => Path.GetFileNameWithoutExtension(file))
            .Where(file => file != Path.GetFileNameWithoutExtension(EventSchemas.EnvelopeFileName))
            .Select(file => int.Parse(file[(file.LastIndexOf(".v", StringComparison.Ordinal) + 2)..], System.Globalization.CultureInfo.InvariantCulture))
            .ToHashSet();

        versions.Should().Contain(EventSchemas.MajorVersion)
            .And.OnlyContain(major => major >= 1 && major <= EventSchemas.MajorVersion,
                $"the schemas describe package majors 1..{EventSchemas.MajorVersion} (contracts/Contracts.csproj)");
    }

    [Fact]
    public void Generated_schemas_mark_required_properties_and_leave_optional_ones_nullable()
    {
        var schema = EventSchemas.Generate(typeof(AlignmentRunCancelled));

        schema["required"]!.AsArray().Select(node => node!.GetValue<string>())
            .Should().BeEquivalentTo("runId", "workspace", "metricId", "attempt", "cancelledAt");
        schema["properties"]!["runId"]!["format"]!.GetValue<string>().Should().Be("uuid");
        schema["properties"]!["reason"]!["type"]!.ToJsonString().Should().Be("""["string","null"]""");
        schema["properties"]!["attempt"]!["type"]!.GetValue<string>().Should().Be("integer");
    }
}
