using System.Net;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Annotations.Tests;

public sealed class ImportValidationTests(AnnotationsApiFactory api) : IClassFixture<AnnotationsApiFactory>
{
    static ImportBody ValidStart(string name) => new ImportBody(name, ("fluency", "median"))
        .Row("a", 4, 3, 4, 5)
        .Row("b", 5, 2);

    async Task<ValidationProblemDetails> RejectedAsync(string body)
    {
        var client = api.CreateClient().As();
        var before = await api.CountAllAsync();
        var response = await AnnotationsApiFactory.PostImportAsync(client, body);
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await api.CountAllAsync()).Should().Be(before, "a rejected import writes nothing");
        return await AnnotationsApiFactory.ReadAsync<ValidationProblemDetails>(response);
    }

    [Fact]
    public async Task A_valid_import_reports_what_it_stored()
    {
        var response = await AnnotationsApiFactory.PostImportAsync(api.CreateClient().As(), ValidStart("valid").ToString());

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var result = await AnnotationsApiFactory.ReadAsync<Dictionary<string, object>>(response);
        result["rows"].ToString().Should().Be("2");
        result["annotations"].ToString().Should().Be("4");
        result["resolved"].ToString().Should().Be("2");
        response.Headers.Location!.ToString().Should().StartWith("/api/evaluations/");
    }

    [Fact]
    public async Task Bad_json_on_a_line_is_rejected_naming_that_line()
    {
        var problem = await RejectedAsync(ValidStart("bad json").Line("""{"externalId": "c", "input": "x", "output": """).ToString());

        problem.Errors.Should().ContainKey("line 4");
        problem.Errors["line 4"].Single().Should().Contain("invalid JSON");
    }

    [Fact]
    public async Task A_score_outside_the_metric_scale_is_rejected_naming_the_line()
    {
        var problem = await RejectedAsync(ValidStart("out of scale").Row("c", 6, 3).Row("d", 3, 0).ToString());

        problem.Errors.Keys.Should().BeEquivalentTo("line 4", "line 5");
        problem.Errors["line 4"].Single().Should().Contain("judge.fluency").And.Contain("outside the scale");
        problem.Errors["line 5"].Single().Should().Contain("annotations[0]").And.Contain("outside the scale");
    }

    [Fact]
    public async Task An_unknown_metric_in_the_header_is_rejected_naming_line_1()
    {
        var problem = await RejectedAsync(new ImportBody("unknown metric", ("fluency", "median"), ("humour", "none")).Row("a", 4, 4).ToString());

        problem.Errors.Should().ContainKey("line 1");
        problem.Errors["line 1"].Should().Contain(m => m.Contains("unknown metric 'humour'"));
    }

    [Fact]
    public async Task A_metric_the_header_does_not_declare_is_rejected_naming_the_line()
    {
        var line = """{"input": "x", "output": "y", "judge": {"coherence": {"score": 3}}}""";
        var problem = await RejectedAsync(ValidStart("undeclared").Line(line).ToString());

        problem.Errors["line 4"].Single().Should().Contain("'coherence' is not declared in the header");
    }

    [Fact]
    public async Task Missing_fields_and_labels_outside_the_metric_labels_are_each_reported()
    {
        var body = new ImportBody("labels", ("tone", "majority"))
            .Line("""{"input": "x", "output": "y", "annotations": [{"metric": "tone", "reviewerId": "r1", "label": "sarcastic"}]}""")
            .Line("""{"input": "x"}""")
            .Line("""{"input": "x", "output": "y", "annotations": [{"metric": "tone", "label": "formal"}]}""")
            .Line("""{"input": "x", "output": "y", "judge": {"tone": {"score": 3}}}""");

        var problem = await RejectedAsync(body.ToString());

        problem.Errors["line 2"].Single().Should().Contain("'sarcastic' is not one of the labels");
        problem.Errors["line 3"].Single().Should().Contain("output is required");
        problem.Errors["line 4"].Single().Should().Contain("reviewerId is required");
        problem.Errors["line 5"].Single().Should().Contain("qualitative");
    }

    [Fact]
    public async Task Errors_after_the_first_are_still_reported_up_to_the_documented_limit()
    {
        var body = new ImportBody("many errors", ("fluency", "none"));
        for (var i = 0; i < 80; i++) body.Row($"r{i}", 9);

        var problem = await RejectedAsync(body.ToString());

        problem.Errors.Should().HaveCount(50);
        problem.Extensions["errorCount"]!.ToString().Should().Be("80");
    }

    [Fact]
    public async Task A_median_rule_on_a_qualitative_metric_is_rejected()
    {
        var problem = await RejectedAsync(new ImportBody("median labels", ("tone", "median")).ToString());

        problem.Errors["line 1"].Should().Contain(m => m.Contains("qualitative"));
    }

    [Fact]
    public async Task An_empty_body_is_rejected()
    {
        var problem = await RejectedAsync("");

        problem.Errors["line 1"].Single().Should().Contain("empty");
    }
}
