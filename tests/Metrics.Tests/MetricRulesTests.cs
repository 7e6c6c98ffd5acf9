using MetricAlignment.Metrics.Domain;

namespace MetricAlignment.Metrics.Tests;

public sealed class MetricRulesTests
{
    [Theory]
    [InlineData("Relevance (summary)", "relevance-summary")]
    [InlineData("  Answer   Relevance!! ", "answer-relevance")]
    [InlineData("Tool-use accuracy v2", "tool-use-accuracy-v2")]
    [InlineData("Ünïcode name", "n-code-name")]
    public void A_key_is_derived_from_the_name_as_a_lower_case_slug(string name, string expected) =>
        MetricRules.DeriveKey(name).Should().Be(expected);

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("!!! ???")]
    public void No_key_is_derived_from_a_name_without_letters_or_digits(string name) =>
        MetricRules.DeriveKey(name).Should().BeNull();

    [Fact]
    public void A_derived_key_is_cut_to_the_maximum_length_without_a_trailing_hyphen()
    {
        var key = MetricRules.DeriveKey(new string('a', 63) + " b c");
        key.Should().HaveLength(63).And.NotEndWith("-");
    }

    [Fact]
    public void A_name_that_reads_as_a_guid_gets_a_key_that_does_not()
    {
        var key = MetricRules.DeriveKey(Guid.NewGuid().ToString())!;
        Guid.TryParse(key, out _).Should().BeFalse();
        key.Should().StartWith("metric-");
    }

    [Fact]
    public void A_numeric_suffix_keeps_the_key_within_the_length_limit()
    {
        MetricRules.WithSuffix("fluency-aligned", 2).Should().Be("fluency-aligned-2");
        var longKey = new string('k', MetricRules.MaxKeyLength);
        MetricRules.WithSuffix(longKey, 12).Should().HaveLength(MetricRules.MaxKeyLength).And.EndWith("-12");
    }

    [Theory]
    [InlineData("Fluency")]
    [InlineData("has space")]
    [InlineData("double--hyphen")]
    [InlineData("-leading")]
    [InlineData("d3b07384-d9a7-4e1b-8a5f-0123456789ab")]
    public void Malformed_keys_are_refused(string key)
    {
        var errors = new ValidationErrors();
        MetricRules.ValidateKey(key, errors);
        errors.ToDictionary().Should().ContainKey("key");
    }

    [Fact]
    public void A_well_formed_key_is_accepted()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidateKey("agent-behavior-failure", errors);
        errors.Any.Should().BeFalse();
    }

    [Fact]
    public void A_quantitative_scale_needs_min_below_max()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidateScale(MetricType.Quantitative, 5, 5, null, errors);
        errors.ToDictionary().Should().ContainKey("scaleMax");
    }

    [Fact]
    public void A_quantitative_metric_needs_both_bounds_and_no_labels()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidateScale(MetricType.Quantitative, null, 5, ["good", "bad"], errors);
        errors.ToDictionary().Keys.Should().BeEquivalentTo("scaleMin", "labels");
    }

    [Theory]
    [InlineData("only")]
    [InlineData("yes|YES")]
    [InlineData("yes| ")]
    public void A_qualitative_metric_needs_at_least_two_distinct_non_empty_labels(string labelList)
    {
        var labels = labelList.Split('|');
        var errors = new ValidationErrors();
        MetricRules.ValidateScale(MetricType.Qualitative, null, null, labels, errors);
        errors.ToDictionary().Should().ContainKey("labels");
    }

    [Fact]
    public void Qualitative_labels_are_trimmed_and_keep_their_order()
    {
        var errors = new ValidationErrors();
        var (_, _, labels) = MetricRules.ValidateScale(MetricType.Qualitative, null, null, [" none ", "loop"], errors);
        errors.Any.Should().BeFalse();
        labels.Should().Equal("none", "loop");
    }

    [Fact]
    public void A_prompt_over_the_maximum_length_is_refused()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts(new string('s', MetricRules.MaxPromptLength + 1), "{{output}}" + new string('t', MetricRules.MaxPromptLength), errors);
        errors.ToDictionary().Keys.Should().BeEquivalentTo("systemPrompt", "userPromptTemplate");
    }

    [Fact]
    public void A_template_with_an_unknown_placeholder_is_refused_naming_it()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts("system", "Rate {{ouput}} against {{input}}", errors);
        errors.ToDictionary()["userPromptTemplate"].Single().Should().Contain("{{ouput}}");
    }

    [Fact]
    public void A_template_that_references_no_part_of_the_row_is_refused()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts("system", "Rate the answer.", errors);
        errors.ToDictionary().Should().ContainKey("userPromptTemplate");
    }

    [Fact]
    public void A_template_referencing_the_row_is_accepted()
    {
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts("system", "Question: {{ input }}\nAnswer: {{output}}\nSources: {{context}}", errors);
        errors.Any.Should().BeFalse();
    }

    [Theory]
    [InlineData("built_in", MetricKind.BuiltIn)]
    [InlineData("CUSTOM", MetricKind.Custom)]
    public void Kinds_parse_from_their_wire_names(string value, MetricKind expected)
    {
        MetricNames.TryParseKind(value, out var kind).Should().BeTrue();
        kind.Should().Be(expected);
    }

    [Fact]
    public void An_unknown_scope_does_not_parse() => MetricNames.TryParseScope("session", out _).Should().BeFalse();
}
