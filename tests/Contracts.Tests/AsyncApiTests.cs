using System.Text.Json.Nodes;

namespace MetricAlignment.Contracts.Tests;

/// <summary>docs/asyncapi.yaml documents every public message on the exchange MassTransit really uses.</summary>
public sealed class AsyncApiTests
{
    static readonly JsonObject Document = AsyncApiDocument.Load();

    public static TheoryData<string> PublicMessageNames => new(ContractCatalogue.PublicMessages.Select(type => type.Name));

    [Fact]
    public void Every_type_in_the_contracts_assembly_is_classified_as_public_or_not()
    {
        var classified = ContractCatalogue.PublicEvents.Concat(ContractCatalogue.PublicCommands)
            .Concat(ContractCatalogue.MetricsServiceProtocol).Concat(ContractCatalogue.NestedTypes).ToList();

        classified.Should().OnlyHaveUniqueItems();
        ContractCatalogue.AllContractTypes.Should().BeEquivalentTo(classified,
            "a new contract type must be added to ContractCatalogue; a public event or command also needs a channel in docs/asyncapi.yaml and a committed schema");
    }

    [Fact]
    public void The_document_is_AsyncApi_2_6_for_the_amqp_server()
    {
        Document["asyncapi"]!.GetValue<string>().Should().Be("2.6.0");
        Document["servers"]!["rabbitmq"]!["protocol"]!.GetValue<string>().Should().Be("amqp");
        Document["defaultContentType"]!.GetValue<string>().Should().Be("application/vnd.masstransit+json");
    }

    [Fact]
    public void The_document_version_is_the_contracts_package_version()
    {
        var package = System.Xml.Linq.XDocument.Load(Path.Combine(MetricAlignment.TestSupport.RepositoryPaths.Root, "contracts", "Contracts.csproj"))
            .Descendants("Version").Single().Value;

        Document["info"]!["version"]!.GetValue<string>().Should().Be(package,
            "the document describes the messages of one package version; bump both together (docs/event-versioning.md)");
    }

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void Every_public_message_has_a_channel_bound_to_its_durable_fanout_exchange(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var exchange = ContractCatalogue.ExchangeName(type);

        var channel = Document["channels"]![exchange];
        channel.Should().NotBeNull($"docs/asyncapi.yaml needs a channel '{exchange}' for {name}");
        var binding = channel!["bindings"]!["amqp"]!;
        binding["is"]!.GetValue<string>().Should().Be("routingKey");
        binding["exchange"]!["name"]!.GetValue<string>().Should().Be(exchange);
        binding["exchange"]!["type"]!.GetValue<string>().Should().Be("fanout");
        binding["exchange"]!["durable"]!.GetValue<bool>().Should().BeTrue();
        binding["exchange"]!["autoDelete"]!.GetValue<bool>().Should().BeFalse();

        // AsyncAPI 2.x: consumers 'subscribe' to what the platform publishes and 'publish' the commands they send.
        var operation = ContractCatalogue.PublicEvents.Contains(type) ? "subscribe" : "publish";
        channel[operation].Should().NotBeNull($"{name} is {(operation == "subscribe" ? "an event" : "a command")}");
        var messageReference = channel[operation]!["message"]!["$ref"]!.GetValue<string>();
        messageReference.Should().Be($"#/components/messages/{name}");
    }

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void Every_public_message_payload_is_the_envelope_around_its_committed_schema(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var message = AsyncApiDocument.Resolve(Document, $"#/components/messages/{name}");

        message["bindings"]!["amqp"]!["messageType"]!.GetValue<string>().Should().Be(ContractCatalogue.MessageUrn(type));
        var parts = message["payload"]!["allOf"]!.AsArray();
        parts[0]!["$ref"]!.GetValue<string>().Should().Be("#/components/schemas/MassTransitEnvelope");
        parts[1]!["properties"]!["messageType"]!["contains"]!["const"]!.GetValue<string>().Should().Be(ContractCatalogue.MessageUrn(type));

        var schemaReference = parts[1]!["properties"]!["message"]!["$ref"]!.GetValue<string>();
        var schemaFile = AsyncApiDocument.Resolve(Document, schemaReference)["$ref"]!.GetValue<string>();
        schemaFile.Should().Be($"./schemas/{EventSchemas.FileName(type)}");
        File.Exists(EventSchemas.FilePath(type)).Should().BeTrue($"{schemaFile} is referenced by docs/asyncapi.yaml");
        AsyncApiDocument.Resolve(Document, "#/components/schemas/MassTransitEnvelope")["$ref"]!.GetValue<string>()
            .Should().Be($"./schemas/{EventSchemas.EnvelopeFileName}");
    }

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void Every_example_validates_against_the_documented_schemas(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var examples = AsyncApiDocument.Resolve(Document, $"#/components/messages/{name}")["examples"]!.AsArray();
        examples.Should().NotBeEmpty();

        foreach (var example in examples)
        {
            var envelope = example!["payload"]!;
            SchemaValidation.Validate(EventSchemas.ReadEnvelope(), envelope).Should().BeEmpty();
            envelope["messageType"]![0]!.GetValue<string>().Should().Be(ContractCatalogue.MessageUrn(type));
            SchemaValidation.Validate(EventSchemas.ReadCommitted(type)!, envelope["message"]!)
                .Should().BeEmpty($"the example of {name} must match docs/schemas/{EventSchemas.FileName(type)}");
        }
    }

    [Theory]
    [MemberData(nameof(PublicMessageNames))]
    public void Every_example_still_validates_against_the_previous_majors_schema(string name)
    {
        var type = ContractCatalogue.ByName(name);
        var previous = EventSchemas.ReadCommitted(type, EventSchemas.MajorVersion - 1);
        if (previous is null) return; // A type new in this major has no older consumers.

        foreach (var example in AsyncApiDocument.Resolve(Document, $"#/components/messages/{name}")["examples"]!.AsArray())
            SchemaValidation.Validate(previous, example!["payload"]!["message"]!).Should().BeEmpty(
                $"a consumer still on docs/schemas/{EventSchemas.FileName(type, EventSchemas.MajorVersion - 1)} must accept today's {name}");
    }

    [Fact]
    public void Every_channel_documents_a_public_message()
    {
        var documented = Document["channels"]!.AsObject().Select(channel => channel.Key);

        documented.Should().BeEquivalentTo(ContractCatalogue.PublicMessages.Select(ContractCatalogue.ExchangeName));
    }
}
