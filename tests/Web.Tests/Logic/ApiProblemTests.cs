using MetricAlignment.Web.Clients;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class ApiProblemTests
{
    static readonly ApiProblem Validation = new(400, "One or more validation errors occurred.", null,
        new Dictionary<string, string[]>
        {
            ["deltaThreshold"] = ["The delta threshold must be greater than 0 and at most 4."],
            ["evaluationIds"] = ["Evaluation x is running, not completed."],
            ["metricId"] = ["Metric has no usable scale."],
        });

    [Fact]
    public void Field_errors_are_found_whatever_the_case_of_the_field_name()
    {
        Validation.ErrorsFor("DeltaThreshold").Should().ContainSingle().Which.Should().Contain("at most 4");
    }

    [Fact]
    public void Errors_no_form_field_shows_are_kept_for_the_banner()
    {
        Validation.ErrorsExcept("deltaThreshold", "evaluationIds").Should().Equal("Metric has no usable scale.");
    }

    [Fact]
    public void The_message_joins_title_and_detail_without_repeating_them()
    {
        new ApiProblem(409, "Already decided", "The run was already accepted.", new Dictionary<string, string[]>()).Message
            .Should().Be("Already decided: The run was already accepted.");
        new ApiProblem(404, "Unknown run", "Unknown run", new Dictionary<string, string[]>()).Message.Should().Be("Unknown run");
    }
}
