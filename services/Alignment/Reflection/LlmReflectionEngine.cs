using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Distillation;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>
/// Reflection by a language model: the traces are cut into batches that fit a token budget, the model proposes
/// candidate guidelines per batch (each citing rows of that batch), and a final call merges the candidates into one
/// set of guidelines, each keeping the rows of the candidates it came from. The refined prompt is the rubric unchanged
/// plus the guidelines' rules in the same delimited calibration section the built-in distiller writes.
/// Row texts and comments reach the model only as delimited data (<see cref="PromptData"/>).
/// </summary>
public sealed class LlmReflectionEngine : IReflectionEngine
{
    public const string BatchPhase = "reflection.batch";
    public const string MergePhase = "reflection.merge";

    readonly LlmProvider provider;
    readonly ProviderCatalog catalog;
    readonly ReflectionOptions options;
    readonly ILogger logger;

    public LlmReflectionEngine(LlmProvider provider, ProviderCatalog catalog, ReflectionOptions options, ILogger<LlmReflectionEngine> logger)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        this.provider = provider;
        this.catalog = catalog;
        this.options = options;
        this.logger = logger;
    }

    public string Provider => provider.Name;

    /// <summary>Distils with a meter of its own (the configured per-run budget); use the metered overload to see the tokens spent.</summary>
    public Task<DistillationResult> DistillAsync(DistillationRequest request, CancellationToken cancellationToken) =>
        DistillAsync(request, new RunTokenMeter(options.TokenBudgetPerRun), cancellationToken);

    public async Task<DistillationResult> DistillAsync(DistillationRequest request, RunTokenMeter meter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(meter);
        cancellationToken.ThrowIfCancellationRequested();
        var model = catalog.Require(Provider, request.Model).Model!;
        var metric = request.Metric;
        var analysis = request.Analysis;
        var warnings = analysis.Warnings.ToList();

        if (analysis.Traces.Count == 0)
        {
            warnings.Add("There were no disagreement rows to reflect on: the prompt is unchanged.");
            return new DistillationResult
            {
                GuidelinesText = Markdown(metric, analysis, model, 0, [], warnings),
                Guidelines = [],
                RefinedSystemPrompt = metric.SystemPrompt,
                RefinedUserPromptTemplate = metric.UserPromptTemplate,
                Warnings = warnings,
            };
        }

        var batches = Batches(metric, analysis.Traces, warnings);
        var candidates = await ProposeAllAsync(metric, model, batches, meter, cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Reflection on provider {Provider} model {Model}: {Candidates} candidate guidelines from {Batches} batches",
            Provider, model, candidates.Count, batches.Count);

        IReadOnlyList<Merged> merged = candidates.Count == 0
            ? []
            : await MergeAsync(metric, model, candidates, meter, cancellationToken).ConfigureAwait(false);
        if (merged.Count == 0) warnings.Add("The reflection model proposed no guidelines: the prompt is unchanged.");

        var guidelines = merged.Select(m => m.Guideline).ToList();
        return new DistillationResult
        {
            GuidelinesText = Markdown(metric, analysis, model, batches.Count, merged, warnings),
            Guidelines = guidelines,
            RefinedSystemPrompt = merged.Count == 0 ? metric.SystemPrompt : RefinedPrompt(metric, analysis, merged),
            RefinedUserPromptTemplate = metric.UserPromptTemplate,
            Warnings = warnings,
        };
    }

    sealed record BatchRow(string Alias, DisagreementTrace Trace, string Block);
    sealed record Candidate(string Text, IReadOnlyList<Guid> RowIds);
    sealed record Merged(Guideline Guideline, string Rule);

    List<List<BatchRow>> Batches(MetricDefinition metric, IReadOnlyList<DisagreementTrace> traces, List<string> warnings)
    {
        var batches = new List<List<BatchRow>>();
        var current = new List<BatchRow>();
        var currentTokens = 0;
        var used = 0;
        foreach (var trace in traces)
        {
            var alias = $"R{current.Count + 1}";
            var block = PromptData.Tag("row", RowNode(metric, trace, alias), alias);
            var tokens = TokenCounter.Count(block) + 1;
            if (current.Count > 0 && currentTokens + tokens > options.BatchTokenBudget)
            {
                batches.Add(current);
                current = [];
                if (batches.Count == options.MaxBatches) break;
                currentTokens = 0;
                alias = "R1";
                block = PromptData.Tag("row", RowNode(metric, trace, alias), alias);
                tokens = TokenCounter.Count(block) + 1;
            }
            current.Add(new BatchRow(alias, trace, block));
            currentTokens += tokens;
            used++;
        }
        if (current.Count > 0) batches.Add(current);
        if (used < traces.Count)
            warnings.Add(string.Create(CultureInfo.InvariantCulture,
                $"The reflection model saw the {used} most instructive of {traces.Count} disagreement rows ({options.MaxBatches} batches of about {options.BatchTokenBudget} tokens)."));
        return batches;
    }

    JsonObject RowNode(MetricDefinition metric, DisagreementTrace trace, string alias)
    {
        var qualitative = metric.Type == MetricType.Qualitative;
        var row = new JsonObject
        {
            ["id"] = alias,
            ["input"] = Cut(trace.InputText),
            ["output"] = Cut(trace.Output),
            ["judge"] = qualitative
                ? new JsonObject { ["label"] = trace.JudgeLabel, ["explanation"] = Cut(trace.JudgeExplanation) }
                : new JsonObject { ["score"] = trace.JudgeScore, ["explanation"] = Cut(trace.JudgeExplanation) },
            ["human"] = qualitative ? new JsonObject { ["label"] = trace.HumanLabel } : new JsonObject { ["score"] = trace.HumanScore },
        };
        var reviewers = new JsonArray();
        foreach (var reviewer in trace.Reviewers)
            reviewers.Add(qualitative
                ? new JsonObject { ["label"] = reviewer.Label, ["comment"] = Cut(reviewer.Comment) }
                : new JsonObject { ["score"] = reviewer.Score, ["comment"] = Cut(reviewer.Comment) });
        row["reviewers"] = reviewers;
        if (trace.Tags.Count > 0)
        {
            var tags = new JsonObject();
            foreach (var (key, value) in trace.Tags.OrderBy(t => t.Key, StringComparer.Ordinal)) tags[key] = value;
            row["tags"] = tags;
        }
        return row;
    }

    string? Cut(string? text) =>
        text is null ? null : text.Length <= options.MaxRowTextLength ? text : string.Concat(text.AsSpan(0, options.MaxRowTextLength), " […]");

    static JsonObject MetricNode(MetricDefinition metric)
    {
        var node = new JsonObject
        {
            ["key"] = metric.Key,
            ["name"] = metric.Name,
            ["type"] = metric.Type == MetricType.Qualitative ? "qualitative" : "quantitative",
        };
        if (metric.Type == MetricType.Qualitative) node["labels"] = new JsonArray(metric.Labels.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray());
        else
        {
            node["scale_min"] = metric.ScaleMin;
            node["scale_max"] = metric.ScaleMax;
        }
        return node;
    }

    static JsonObject RubricNode(MetricDefinition metric) => new()
    {
        ["system_prompt"] = BuiltInDistiller.WithoutPreviousSection(metric.SystemPrompt).TrimEnd(),
        ["user_prompt_template"] = metric.UserPromptTemplate,
    };

    static readonly BinaryData CandidateSchema = PromptData.Schema(new JsonObject
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["guidelines"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject
                    {
                        ["text"] = new JsonObject { ["type"] = "string" },
                        ["row_ids"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } },
                    },
                    ["required"] = new JsonArray("text", "row_ids"),
                    ["additionalProperties"] = false,
                },
            },
        },
        ["required"] = new JsonArray("guidelines"),
        ["additionalProperties"] = false,
    });

    static readonly BinaryData MergeSchema = PromptData.Schema(new JsonObject
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["guidelines"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject
                    {
                        ["text"] = new JsonObject { ["type"] = "string" },
                        ["rule"] = new JsonObject { ["type"] = "string" },
                        ["candidate_ids"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } },
                    },
                    ["required"] = new JsonArray("text", "rule", "candidate_ids"),
                    ["additionalProperties"] = false,
                },
            },
        },
        ["required"] = new JsonArray("guidelines"),
        ["additionalProperties"] = false,
    });

    string BatchSystemPrompt() =>
        "You calibrate an LLM judge against human reviewers. You receive the metric, the judge's current rubric, and rows where the judge's "
        + "value and the reviewers' resolved value disagree, with the reviewers' comments and the judge's explanation. "
        + "Find what the judge systematically misses or over-weights compared with the reviewers, and propose candidate guidelines that would bring "
        + $"its judgements closer to theirs. Propose at most {options.MaxGuidelines} guidelines, general enough to apply to unseen rows. "
        + "Each guideline cites, in row_ids, the ids of the rows (such as \"R1\") it is drawn from; cite only ids of rows given in this message.\n"
        + PromptData.DataRule;

    /// <summary>
    /// Sends every batch call at once (the provider's concurrency limiter decides how many are in flight) and keeps the
    /// candidates in batch order, so the merge prompt and its C1..Cn ids are the same whatever order the answers arrive in.
    /// The first failure cancels the sibling calls and is the one reported, not the cancellations it caused.
    /// </summary>
    async Task<List<Candidate>> ProposeAllAsync(MetricDefinition metric, string model, IReadOnlyList<List<BatchRow>> batches, RunTokenMeter meter,
        CancellationToken cancellationToken)
    {
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? firstFailure = null;
        async Task<IReadOnlyList<Candidate>> ProposeOneAsync(int index)
        {
            try
            {
                return await ProposeAsync(metric, model, batches[index], index, batches.Count, meter, siblings.Token).ConfigureAwait(false);
            }
            catch (Exception failure) when (!(failure is OperationCanceledException && siblings.IsCancellationRequested))
            {
                Interlocked.CompareExchange(ref firstFailure, failure, null);
                await siblings.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        var calls = Enumerable.Range(0, batches.Count).Select(ProposeOneAsync).ToList();
        try
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (Exception) when (firstFailure is not null && !cancellationToken.IsCancellationRequested)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(firstFailure);
        }
        return calls.SelectMany(call => call.Result).ToList();
    }

    async Task<IReadOnlyList<Candidate>> ProposeAsync(MetricDefinition metric, string model, IReadOnlyList<BatchRow> batch, int index, int count,
        RunTokenMeter meter, CancellationToken cancellationToken)
    {
        var user = new StringBuilder();
        user.Append(PromptData.Tag("metric", MetricNode(metric))).Append('\n');
        user.Append(PromptData.Tag("rubric", RubricNode(metric))).Append('\n');
        user.Append(CultureInfo.InvariantCulture, $"Disagreement rows ({batch.Count}):\n");
        foreach (var row in batch) user.Append(row.Block).Append('\n');
        user.Append("Answer with the JSON object {\"guidelines\": [{\"text\": ..., \"row_ids\": [...]}]}.");
        var byAlias = batch.ToDictionary(r => r.Alias, r => r.Trace.RowId, StringComparer.OrdinalIgnoreCase);

        var call = new ModelCall
        {
            Model = model,
            Phase = BatchPhase,
            SystemPrompt = BatchSystemPrompt(),
            UserPrompt = user.ToString(),
            SchemaName = "candidate_guidelines",
            Schema = CandidateSchema,
            MaxOutputTokens = options.MaxOutputTokens,
            Temperature = options.Temperature,
        };
        return await StructuredCall.AskAsync(provider, call, answer => ParseCandidates(answer, byAlias), options.MaxMalformedAnswerRetries,
            $"batch {index + 1} of {count}", meter, logger, cancellationToken).ConfigureAwait(false);
    }

    static List<Candidate> ParseCandidates(string answer, IReadOnlyDictionary<string, Guid> byAlias)
    {
        var root = PromptData.ParseObject(answer);
        var items = PromptData.RequiredArray(root, "guidelines", "the answer");
        var candidates = new List<Candidate>();
        var number = 0;
        foreach (var item in items)
        {
            var where = $"guideline {++number}";
            if (item is not JsonObject guideline) throw new FormatException($"{where} is not an object");
            var text = PromptData.RequiredString(guideline, "text", where);
            var rowIds = new List<Guid>();
            foreach (var id in PromptData.RequiredArray(guideline, "row_ids", where))
            {
                var alias = id is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String ? value.GetValue<string>().Trim() : null;
                if (alias is null || !byAlias.TryGetValue(alias, out var rowId))
                    throw new FormatException($"{where} cites \"{Printable(id)}\", which is not a row of this batch");
                if (!rowIds.Contains(rowId)) rowIds.Add(rowId);
            }
            if (rowIds.Count == 0) throw new FormatException($"{where} cites no row");
            candidates.Add(new Candidate(text, rowIds));
        }
        return candidates;
    }

    async Task<IReadOnlyList<Merged>> MergeAsync(MetricDefinition metric, string model, IReadOnlyList<Candidate> candidates, RunTokenMeter meter,
        CancellationToken cancellationToken)
    {
        var system =
            "You calibrate an LLM judge against human reviewers. Candidate guidelines were drawn from batches of rows where the judge and the reviewers disagree. "
            + $"Merge them into one coherent set of at most {options.MaxGuidelines} guidelines: combine duplicates, drop candidates contradicted by others or too specific to one row, "
            + "keep the best supported first. For each guideline give: text (the finding, for the people running the evaluation), rule (one instruction addressed to the judge, "
            + "in the second person, to be appended to its rubric) and candidate_ids (the ids of the candidates, such as \"C1\", it merges; only ids given here).\n"
            + PromptData.DataRule;
        var user = new StringBuilder();
        user.Append(PromptData.Tag("metric", MetricNode(metric))).Append('\n');
        user.Append(PromptData.Tag("rubric", RubricNode(metric))).Append('\n');
        user.Append(CultureInfo.InvariantCulture, $"Candidate guidelines ({candidates.Count}):\n");
        var byId = new Dictionary<string, Candidate>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < candidates.Count; i++)
        {
            var id = $"C{i + 1}";
            byId[id] = candidates[i];
            user.Append(PromptData.Tag("candidate", new JsonObject { ["id"] = id, ["text"] = candidates[i].Text, ["supporting_rows"] = candidates[i].RowIds.Count }, id)).Append('\n');
        }
        user.Append("Answer with the JSON object {\"guidelines\": [{\"text\": ..., \"rule\": ..., \"candidate_ids\": [...]}]}.");

        var call = new ModelCall
        {
            Model = model,
            Phase = MergePhase,
            SystemPrompt = system,
            UserPrompt = user.ToString(),
            SchemaName = "merged_guidelines",
            Schema = MergeSchema,
            MaxOutputTokens = options.MaxOutputTokens,
            Temperature = options.Temperature,
        };
        return await StructuredCall.AskAsync(provider, call, answer => ParseMerged(answer, byId), options.MaxMalformedAnswerRetries,
            "the merge of the candidate guidelines", meter, logger, cancellationToken).ConfigureAwait(false);
    }

    List<Merged> ParseMerged(string answer, IReadOnlyDictionary<string, Candidate> byId)
    {
        var root = PromptData.ParseObject(answer);
        var items = PromptData.RequiredArray(root, "guidelines", "the answer");
        if (items.Count == 0) throw new FormatException("the merge returned no guideline although there were candidates");
        var merged = new List<Merged>();
        var number = 0;
        foreach (var item in items.Take(options.MaxGuidelines))
        {
            var where = $"guideline {++number}";
            if (item is not JsonObject guideline) throw new FormatException($"{where} is not an object");
            var text = PromptData.RequiredString(guideline, "text", where);
            var rule = PromptData.RequiredString(guideline, "rule", where);
            var rowIds = new List<Guid>();
            var cited = 0;
            foreach (var id in PromptData.RequiredArray(guideline, "candidate_ids", where))
            {
                var candidateId = id is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String ? value.GetValue<string>().Trim() : null;
                if (candidateId is null || !byId.TryGetValue(candidateId, out var candidate))
                    throw new FormatException($"{where} cites \"{Printable(id)}\", which is not one of the candidates");
                cited++;
                foreach (var rowId in candidate.RowIds)
                    if (!rowIds.Contains(rowId)) rowIds.Add(rowId);
            }
            if (cited == 0) throw new FormatException($"{where} cites no candidate");
            merged.Add(new Merged(new Guideline { Text = OneLine(text), SourceRowIds = rowIds }, OneLine(rule)));
        }
        return merged;
    }

    /// <summary>Model text goes on one line and can never forge the calibration section's markers.</summary>
    static string OneLine(string text)
    {
        var cleaned = text.Replace(BuiltInDistiller.SectionStart, "", StringComparison.Ordinal).Replace(BuiltInDistiller.SectionEnd, "", StringComparison.Ordinal);
        return string.Join(' ', cleaned.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    static string Printable(JsonNode? node)
    {
        var text = node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String ? value.GetValue<string>() : node?.ToJsonString() ?? "null";
        return text.Length <= 60 ? text : text[..60] + "…";
    }

    static string RefinedPrompt(MetricDefinition metric, TraceAnalysis analysis, IReadOnlyList<Merged> merged)
    {
        var prompt = new StringBuilder(BuiltInDistiller.WithoutPreviousSection(metric.SystemPrompt).TrimEnd());
        prompt.Append("\n\n").Append(BuiltInDistiller.SectionStart).Append('\n');
        prompt.Append(CultureInfo.InvariantCulture,
            $"These guidelines come from comparing your past {(metric.Type == MetricType.Qualitative ? "labels" : "scores")} with human reviewers on {analysis.Statistics.RowCount} rows. ");
        prompt.Append("The rubric above still defines the metric; use them to calibrate how you apply it.\n");
        var number = 0;
        foreach (var item in merged) prompt.Append(CultureInfo.InvariantCulture, $"{++number}. {item.Rule}\n");
        prompt.Append(BuiltInDistiller.SectionEnd);
        return prompt.ToString();
    }

    string Markdown(MetricDefinition metric, TraceAnalysis analysis, string model, int batches, IReadOnlyList<Merged> merged, IReadOnlyList<string> warnings)
    {
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"# Calibration guidelines: {metric.Name} ({metric.Key} v{metric.Version})\n\n");
        md.Append(CultureInfo.InvariantCulture,
            $"Drawn by model '{model}' of provider '{Provider}' from {analysis.Traces.Count} disagreement rows in {batches} batch{(batches == 1 ? "" : "es")}; ");
        md.Append(CultureInfo.InvariantCulture, $"{analysis.RowsLoaded} rows loaded, {analysis.Statistics.RowCount} compared, {analysis.Disagreements} disagree.\n");
        if (merged.Count > 0)
        {
            md.Append("\n## Guidelines\n\n");
            foreach (var item in merged)
            {
                md.Append(CultureInfo.InvariantCulture, $"- {item.Guideline.Text}");
                if (item.Guideline.SourceRowIds.Count > 0) md.Append(CultureInfo.InvariantCulture, $" _(rows: {string.Join(", ", item.Guideline.SourceRowIds)})_");
                md.Append(CultureInfo.InvariantCulture, $"\n  - Rule for the judge: {item.Rule}\n");
            }
        }
        if (warnings.Count > 0)
        {
            md.Append("\n## Warnings\n\n");
            foreach (var warning in warnings) md.Append(CultureInfo.InvariantCulture, $"- {warning}\n");
        }
        return md.ToString();
    }
}
