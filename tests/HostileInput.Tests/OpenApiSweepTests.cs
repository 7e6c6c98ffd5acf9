using MetricAlignment.TestSupport;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>Every endpoint each service documents, attacked with garbage in every place a client controls.</summary>
[Collection(HostileServicesCollection.Name)]
public sealed class OpenApiSweepTests(HostileServices services, ITestOutputHelper output)
{
    [Theory]
    [InlineData("Metrics")]
    [InlineData("Annotations")]
    [InlineData("Alignment")]
    public async Task Every_documented_endpoint_refuses_hostile_input_with_a_problem_detail_and_writes_nothing(string name)
    {
        var service = services.All.Single(s => s.Name == name);
        var document = JsonNode.Parse(await service.Client.GetStringAsync("/openapi/v1.json"))!;
        var operations = OpenApiAttacks.Operations(document);
        operations.Should().NotBeEmpty("the service documents its endpoints");
        var attacks = operations.SelectMany(OpenApiAttacks.For).ToList();
        var before = await DatabaseRows.CountAsync(service.DatabaseConnectionString);

        var attacker = new Attacker(service.Client);
        var answers = await attacker.SendAllAsync(attacks);

        output.WriteLine($"{name} operations: {OpenApiAttacks.Describe(operations)}");
        output.WriteLine(attacker.Summary(name));
        var violations = answers.Select(a => a.Violation()).OfType<string>().ToList();
        // Every write is garbage or aimed at an id that does not exist: none may succeed.
        violations.AddRange(answers.Where(a => a.Attack.Method != HttpMethod.Get && a.Status is < 400 or >= 500)
            .Select(a => $"{a.Attack} was not refused: {a.Status}"));
        foreach (var violation in violations.Take(30)) output.WriteLine(violation);
        violations.Should().BeEmpty();
        answers.Should().Contain(a => a.Status == 404, "unknown ids are reported as such");
        (await DatabaseRows.CountAsync(service.DatabaseConnectionString)).Should().Equal(before, "a refused request writes nothing");
    }
}
