using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class ThresholdRulesTests
{
    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("4", 4.0)]
    [InlineData("0.5", 0.5)]
    [InlineData(" 2.25 ", 2.25)]
    public void A_threshold_inside_a_one_to_five_scale_is_accepted(string text, double expected)
    {
        var error = ThresholdRules.Validate(text, 1, 5, out var threshold);

        error.Should().BeNull();
        threshold.Should().Be(expected);
    }

    [Theory]
    [InlineData("4.01")]
    [InlineData("5")]
    [InlineData("9")]
    public void A_threshold_beyond_the_scale_range_is_refused_naming_the_bounds(string text)
    {
        var error = ThresholdRules.Validate(text, 1, 5, out var threshold);

        error.Should().Contain("at most 4").And.Contain("from 1 to 5");
        threshold.Should().BeNull();
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public void A_threshold_of_zero_or_less_is_refused(string text)
    {
        ThresholdRules.Validate(text, 1, 5, out _).Should().Contain("greater than 0");
    }

    [Fact]
    public void Text_that_is_not_a_number_is_refused_with_an_example()
    {
        ThresholdRules.Validate("one", 1, 5, out _).Should().Contain("Enter a number such as 1");
    }

    [Fact]
    public void A_blank_threshold_means_the_service_default()
    {
        ThresholdRules.Validate("  ", 1, 5, out var threshold).Should().BeNull();
        threshold.Should().BeNull();
    }

    [Fact]
    public void On_a_zero_to_one_scale_the_default_is_half_the_range_and_one_is_the_most_allowed()
    {
        ThresholdRules.Default(ThresholdRules.Range(0, 1)!.Value).Should().Be(0.5);
        ThresholdRules.Validate("1", 0, 1, out _).Should().BeNull();
        ThresholdRules.Validate("1.5", 0, 1, out _).Should().Contain("at most 1");
    }

    [Fact]
    public void A_metric_without_a_usable_scale_takes_no_threshold()
    {
        ThresholdRules.Range(null, null).Should().BeNull();
        ThresholdRules.Range(3, 3).Should().BeNull();
        ThresholdRules.Validate("1", null, null, out _).Should().Contain("no numeric scale");
    }
}
