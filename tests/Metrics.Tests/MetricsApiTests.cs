using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MetricAlignment.Metrics.Api;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.Metrics.Tests;

public sealed class MetricsApiTests(MetricsServiceFixture service) : IClassFixture<MetricsServiceFixture>
{
    static readonly JsonSerializerOptions Json = MetricsServiceFixture.Json;
    HttpClient Client => service.Client;

    [Fact]
    public async Task The_catalogue_is_seeded_with_the_eleven_built_in_metrics()
    {
        var builtIns = await Client.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=built_in", Json);

        builtIns!.Select(m => m.Key).Should().BeEquivalentTo(
            "helpfulness", "conversation-coherence", "answer-relevance", "verbosity", "faithfulness", "goal-completion",
            "agent-behavior-failure", "relevance", "fluency", "coherence", "consistency");
        builtIns.Should().OnlyContain(m => m.Kind == MetricKind.BuiltIn && m.CurrentVersion == 1 && m.ForkedFrom == null);
    }

    [Fact]
    public async Task Fluency_carries_the_summarization_datasets_definition_verbatim()
    {
        var judgePrompt = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Dataset, "judge_prompt.txt"));
        var definition = judgePrompt.Split("\n\n").Single(p => p.StartsWith("Fluency. ")).Trim();

        var fluency = await service.GetMetricAsync("fluency");

        fluency.Name.Should().Be("Fluency (summary)");
        fluency.Description.Should().Be(definition);
        fluency.Current.UserPromptTemplate.Should().Contain(definition).And.Contain("{{input}}").And.Contain("{{output}}");
        fluency.Scope.Should().Be(MetricScope.Conversation);
        (fluency.Type, fluency.ScaleMin, fluency.ScaleMax).Should().Be((MetricType.Quantitative, 1d, 5d));
        fluency.Current.CreatedBy.Kind.Should().Be(VersionAuthorKind.Seed);
    }

    [Fact]
    public async Task Every_summarization_metric_quotes_its_definition_from_the_judge_prompt()
    {
        var judgePrompt = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Dataset, "judge_prompt.txt"));
        foreach (var (key, heading) in new[] { ("relevance", "Relevance"), ("coherence", "Coherence"), ("consistency", "Consistency") })
        {
            var definition = judgePrompt.Split("\n\n").Single(p => p.StartsWith(heading + ". ")).Trim();
            var metric = await service.GetMetricAsync(key);
            metric.Current.UserPromptTemplate.Should().Contain(definition, because: key);
        }
    }

    [Fact]
    public async Task Agent_behavior_failure_is_qualitative_with_its_failure_labels()
    {
        var metric = await service.GetMetricAsync("agent-behavior-failure");

        metric.Type.Should().Be(MetricType.Qualitative);
        metric.Labels.Should().Equal("none", "tool_misuse", "instruction_violation", "hallucinated_action", "premature_termination", "loop");
        (metric.ScaleMin, metric.ScaleMax).Should().Be((null, null));
    }

    [Fact]
    public async Task Goal_completion_is_a_zero_to_one_conversation_metric()
    {
        var metric = await service.GetMetricAsync("goal-completion");
        (metric.ScaleMin, metric.ScaleMax, metric.Scope).Should().Be((0d, 1d, MetricScope.Conversation));
    }

    [Fact]
    public async Task Json_uses_camel_case_fields_and_snake_case_enum_values()
    {
        using var document = JsonDocument.Parse(await Client.GetStringAsync("/api/metrics/goal-completion"));
        var root = document.RootElement;

        root.GetProperty("kind").GetString().Should().Be("built_in");
        root.GetProperty("currentVersion").GetInt32().Should().Be(1);
        root.GetProperty("forkedFrom").ValueKind.Should().Be(JsonValueKind.Null);
        root.GetProperty("current").GetProperty("createdBy").GetProperty("kind").GetString().Should().Be("seed");
    }

    [Fact]
    public async Task A_metric_is_found_by_key_and_by_id()
    {
        var byKey = await service.GetMetricAsync("helpfulness");
        var byId = await service.GetMetricAsync(byKey.Id.ToString());

        byId.Key.Should().Be("helpfulness");
        byId.Current.Should().BeEquivalentTo(byKey.Current);
    }

    [Theory]
    [InlineData("/api/metrics/no-such-metric")]
    [InlineData("/api/metrics/00000000-0000-0000-0000-000000000001")]
    [InlineData("/api/metrics/no-such-metric/versions")]
    [InlineData("/api/metrics/helpfulness/versions/99")]
    public async Task Unknown_metrics_and_versions_are_404_problems(string path)
    {
        var response = await Client.GetAsync(path);

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(Json);
        problem!.Detail.Should().NotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task Creating_a_custom_metric_derives_its_key_and_starts_at_version_1()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var response = await Client.PostAsJsonAsync("/api/metrics", new
        {
            name = $"Politeness {suffix}",
            description = "Is the assistant polite?",
            type = "qualitative",
            labels = new[] { "polite", "neutral", "rude" },
            scope = "turn",
            systemPrompt = "You judge politeness.",
            userPromptTemplate = "Conversation: {{input}}\nResponse: {{output}}\nLabel it polite, neutral or rude.",
            author = "ana@example.com",
            changeNote = "First draft.",
        }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var created = (await response.Content.ReadFromJsonAsync<MetricDetail>(Json))!;
        response.Headers.Location!.ToString().Should().Be($"/api/metrics/{created.Id}");
        created.Key.Should().Be($"politeness-{suffix}");
        created.Kind.Should().Be(MetricKind.Custom);
        created.Labels.Should().Equal("polite", "neutral", "rude");
        created.CurrentVersion.Should().Be(1);
        created.Current.CreatedBy.Should().BeEquivalentTo(new CreatedBy(VersionAuthorKind.Manual, "ana@example.com", null));
        created.Current.ChangeNote.Should().Be("First draft.");

        var customs = await Client.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", Json);
        customs!.Should().Contain(m => m.Id == created.Id);
    }

    [Fact]
    public async Task Publishing_a_version_increments_the_current_version_and_keeps_the_old_one()
    {
        var metric = await service.CreateCustomMetricAsync();

        var response = await Client.PostAsJsonAsync($"/api/metrics/{metric.Key}/versions", new
        {
            systemPrompt = "You judge tone strictly.",
            userPromptTemplate = "{{input}} -> {{output}}: score the tone 1-5, penalise sarcasm.",
            author = "ben@example.com",
            changeNote = "Penalise sarcasm.",
            expectedCurrentVersion = 1,
        }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/api/metrics/{metric.Id}/versions/2");
        var version = (await response.Content.ReadFromJsonAsync<VersionDetail>(Json))!;
        version.Version.Should().Be(2);

        var after = await service.GetMetricAsync(metric.Key);
        after.CurrentVersion.Should().Be(2);
        after.Current.SystemPrompt.Should().Be("You judge tone strictly.");
        var versions = await Client.GetFromJsonAsync<List<VersionDetail>>($"/api/metrics/{metric.Id}/versions", Json);
        versions!.Select(v => v.Version).Should().Equal(2, 1);
        var first = await Client.GetFromJsonAsync<VersionDetail>($"/api/metrics/{metric.Key}/versions/1", Json);
        first!.SystemPrompt.Should().Be(metric.Current.SystemPrompt);
    }

    [Fact]
    public async Task Publishing_a_version_of_a_built_in_metric_is_refused()
    {
        var response = await Client.PostAsJsonAsync("/api/metrics/fluency/versions", new
        {
            systemPrompt = "Be harsher.",
            userPromptTemplate = "{{input}} {{output}}",
            author = "ben@example.com",
            changeNote = "Harsher.",
        }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        var problem = await response.Content.ReadFromJsonAsync<ProblemDetails>(Json);
        problem!.Title.Should().Be("Built-in metrics cannot be edited");
        problem.Detail.Should().Contain("fork");
        (await service.GetMetricAsync("fluency")).CurrentVersion.Should().Be(1);
    }

    [Fact]
    public async Task A_version_published_from_a_stale_view_is_refused_naming_both_versions()
    {
        var metric = await service.CreateCustomMetricAsync();
        var edit = new { systemPrompt = "v2", userPromptTemplate = "{{output}}", author = "a", changeNote = "second", expectedCurrentVersion = 1 };
        (await Client.PostAsJsonAsync($"/api/metrics/{metric.Id}/versions", edit, Json)).StatusCode.Should().Be(HttpStatusCode.Created);

        var stale = await Client.PostAsJsonAsync($"/api/metrics/{metric.Id}/versions", edit with { systemPrompt = "other v2" }, Json);

        stale.StatusCode.Should().Be(HttpStatusCode.Conflict);
        var problem = (await stale.Content.ReadFromJsonAsync<ProblemDetails>(Json))!;
        problem.Detail.Should().Contain("version 2").And.Contain("version 1");
        ((JsonElement)problem.Extensions["currentVersion"]!).GetInt32().Should().Be(2);
        ((JsonElement)problem.Extensions["expectedCurrentVersion"]!).GetInt32().Should().Be(1);
        (await service.GetMetricAsync(metric.Key)).Current.SystemPrompt.Should().Be("v2");
    }

    [Fact]
    public async Task Forking_a_built_in_records_lineage_and_leaves_the_built_in_unchanged()
    {
        var before = await service.GetMetricAsync("faithfulness");
        var suffix = Guid.NewGuid().ToString("N")[..8];

        var response = await Client.PostAsJsonAsync("/api/metrics/faithfulness/fork", new
        {
            name = $"Faithfulness for legal {suffix}",
            author = "cy@example.com",
            userPromptTemplate = "Sources: {{context}}\nAnswer: {{output}}\nScore faithfulness 1-5; statutes must be quoted exactly.",
        }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var fork = (await response.Content.ReadFromJsonAsync<MetricDetail>(Json))!;
        fork.Kind.Should().Be(MetricKind.Custom);
        fork.Key.Should().Be($"faithfulness-for-legal-{suffix}");
        fork.ForkedFrom.Should().Be(new ForkedFrom(before.Id, "faithfulness", 1));
        fork.Current.Version.Should().Be(1);
        fork.Current.SystemPrompt.Should().Be(before.Current.SystemPrompt, "prompts not overridden come from the source");
        fork.Current.UserPromptTemplate.Should().Contain("statutes");
        fork.Current.ChangeNote.Should().Contain("faithfulness v1");
        (fork.Type, fork.Scope, fork.ScaleMin, fork.ScaleMax).Should().Be((before.Type, before.Scope, before.ScaleMin, before.ScaleMax));

        var after = await service.GetMetricAsync("faithfulness");
        after.Should().BeEquivalentTo(before);
    }

    [Fact]
    public async Task A_fork_can_be_published_to_unlike_its_built_in_source()
    {
        var response = await Client.PostAsJsonAsync("/api/metrics/verbosity/fork", new { name = "Verbosity mine", author = "d" }, Json);
        var fork = (await response.Content.ReadFromJsonAsync<MetricDetail>(Json))!;

        var version = await Client.PostAsJsonAsync($"/api/metrics/{fork.Id}/versions",
            new { systemPrompt = "s", userPromptTemplate = "{{output}}", author = "d", changeNote = "tuned" }, Json);

        version.StatusCode.Should().Be(HttpStatusCode.Created);
        (await service.GetMetricAsync(fork.Id.ToString())).CurrentVersion.Should().Be(2);
    }

    [Fact]
    public async Task Invalid_metrics_are_refused_with_a_validation_problem_naming_the_fields()
    {
        var response = await Client.PostAsJsonAsync("/api/metrics", new
        {
            name = "  ",
            type = "quantitative",
            scaleMin = 5,
            scaleMax = 1,
            scope = "session",
            systemPrompt = "",
            userPromptTemplate = new string('x', MetricRules.MaxPromptLength + 1),
        }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var problem = (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(Json))!;
        problem.Errors.Keys.Should().BeEquivalentTo("name", "scaleMax", "scope", "systemPrompt", "userPromptTemplate", "author");
    }

    [Fact]
    public async Task A_qualitative_metric_without_two_distinct_labels_or_a_known_type_is_refused()
    {
        var qualitative = await Client.PostAsJsonAsync("/api/metrics", new
        {
            name = "Mood", type = "qualitative", labels = new[] { "happy", "Happy" }, scope = "turn",
            systemPrompt = "s", userPromptTemplate = "{{output}}", author = "a",
        }, Json);
        var unknownType = await Client.PostAsJsonAsync("/api/metrics", new
        {
            name = "Mood", type = "ordinal", scope = "turn", systemPrompt = "s", userPromptTemplate = "{{output}}", author = "a",
        }, Json);

        (await qualitative.Content.ReadFromJsonAsync<ValidationProblemDetails>(Json))!.Errors.Keys.Should().Equal("labels");
        (await unknownType.Content.ReadFromJsonAsync<ValidationProblemDetails>(Json))!.Errors.Keys.Should().Equal("type");
    }

    [Fact]
    public async Task A_duplicate_key_is_a_conflict()
    {
        var response = await Client.PostAsJsonAsync("/api/metrics", new
        {
            key = "helpfulness", name = "My helpfulness", type = "quantitative", scaleMin = 0, scaleMax = 1, scope = "turn",
            systemPrompt = "s", userPromptTemplate = "{{output}}", author = "a",
        }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadFromJsonAsync<ProblemDetails>(Json))!.Detail.Should().Contain("helpfulness");
    }

    [Fact]
    public async Task An_unknown_kind_filter_is_a_validation_problem()
    {
        var response = await Client.GetAsync("/api/metrics?kind=builtin");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(Json))!.Errors.Should().ContainKey("kind");
    }

    [Fact]
    public async Task A_version_request_without_a_change_note_or_author_is_refused_and_changes_nothing()
    {
        var metric = await service.CreateCustomMetricAsync();

        var response = await Client.PostAsJsonAsync($"/api/metrics/{metric.Key}/versions",
            new { systemPrompt = "s", userPromptTemplate = "{{output}}" }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadFromJsonAsync<ValidationProblemDetails>(Json))!.Errors.Keys.Should().BeEquivalentTo("author", "changeNote");
        (await service.GetMetricAsync(metric.Key)).CurrentVersion.Should().Be(1);
    }

    [Fact]
    public async Task A_malformed_body_is_a_400_problem_not_a_server_error()
    {
        using var content = new StringContent("""{"name": "Tone", "scaleMin": "five"}""", System.Text.Encoding.UTF8, "application/json");

        var response = await Client.PostAsync("/api/metrics", content);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task Forking_a_version_that_does_not_exist_is_404_and_creates_nothing()
    {
        var before = await Client.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", Json);

        var response = await Client.PostAsJsonAsync("/api/metrics/coherence/fork", new { name = "Coherence from the future", author = "a", version = 7 }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await response.Content.ReadFromJsonAsync<ProblemDetails>(Json))!.Detail.Should().Contain("no version 7");
        var after = await Client.GetFromJsonAsync<List<MetricSummary>>("/api/metrics?kind=custom", Json);
        after!.Should().NotContain(m => m.Name == "Coherence from the future");
        after!.Count.Should().Be(before!.Count);
    }

    [Fact]
    public async Task Forking_under_a_key_already_in_use_is_a_conflict()
    {
        var response = await Client.PostAsJsonAsync("/api/metrics/consistency/fork", new { name = "Another", key = "fluency", author = "a" }, Json);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadFromJsonAsync<ProblemDetails>(Json))!.Title.Should().Be("Key already in use");
    }

    [Fact]
    public async Task The_openapi_document_describes_the_metrics_api()
    {
        var document = await Client.GetStringAsync("/openapi/v1.json");

        document.Should().Contain("/api/metrics/{idOrKey}/versions").And.Contain("/api/metrics/{idOrKey}/fork").And.Contain("PublishMetricVersion");
    }
}
