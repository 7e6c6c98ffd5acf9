using MetricAlignment.Metrics.Domain;

namespace MetricAlignment.Metrics.Catalogue;

public sealed record BuiltInMetric(
    Guid Id,
    string Key,
    string Name,
    string Description,
    MetricType Type,
    MetricScope Scope,
    double? ScaleMin,
    double? ScaleMax,
    IReadOnlyList<string>? Labels,
    string SystemPrompt,
    string UserPromptTemplate);

/// <summary>
/// The metrics every deployment starts with. Ids are fixed so that every environment (and every replica seeding at
/// once) agrees on them. Templates reference the scored row through {{input}} (the conversation so far, or the source
/// text), {{output}} (the response or summary being judged) and {{context}} (retrieved or reference material, may be empty).
/// The judge answers with JSON: {"explanation": ..., "score": n} or {"explanation": ..., "label": "..."}; the
/// explanation comes first so the judge reasons before it commits to a value.
/// </summary>
public static class BuiltInCatalogue
{
    const string QuantitativeAnswer = """
        Reply with JSON only, no code fences, in exactly this form:
        {"explanation": "<two or three sentences citing the specific evidence that decided the score>", "score": <integer from 1 to 5>}
        """;

    const string TurnMaterial = """
        ## Conversation so far (system instructions, user messages, earlier assistant turns and tool calls)
        {{input}}

        ## Additional context (retrieved documents, tool results or reference material; may be empty)
        {{context}}

        ## Assistant response to evaluate
        {{output}}
        """;

    static string JudgeSystemPrompt(string quality) => $"""
        You are a meticulous, impartial evaluator of AI assistant responses. You judge exactly one quality, {quality}, and nothing else.
        Base your judgement only on the material you are shown and on the rubric. Do not reward length, confidence, politeness or formatting for their own sake, and do not let the order in which material appears sway you.
        Read everything before deciding, apply the rubric's level descriptions literally, and when a response falls between two levels choose the lower one unless it clearly meets every requirement of the higher.
        Reply with JSON only.
        """;

    public static readonly BuiltInMetric Helpfulness = new(
        Guid.Parse("8a9f0a1c-eb54-4987-bc1f-84d8bfbaf960"),
        "helpfulness",
        "Helpfulness",
        "How well the assistant's response meets the user's actual need in their latest message: correct, usable and complete enough to act on. 1 (not helpful) to 5 (fully resolves the request).",
        MetricType.Quantitative, MetricScope.Turn, 1, 5, null,
        JudgeSystemPrompt("helpfulness"),
        TurnMaterial + "\n\n" + """
        ## Rubric: helpfulness
        Judge how well the response serves the user's need as expressed in their latest message, read in the light of the whole conversation. Ask: after reading this response, can the user do what they came to do?

        5 - Fully resolves the request. Accurate, directly usable (e.g. working steps, a correct answer, a finished artefact), and at the right level for this user. Handles genuine ambiguity by stating assumptions or asking one focused question only when the request truly cannot be answered otherwise.
        4 - Resolves the main request correctly, with a minor gap: a missing detail, an unnecessary detour, or slightly more work left to the user than ideal.
        3 - Partly helpful. Addresses the request but leaves an important part unanswered, needs noticeable effort from the user to be usable, or contains a minor error the user could notice and fix.
        2 - Marginally helpful. Mostly generic, off-target or incomplete, or contains an error that undermines its usefulness.
        1 - Not helpful. Ignores or misreads the request, refuses without a good reason, or is wrong in a way that would mislead the user.

        Notes:
        - A refusal of an unsafe or disallowed request that explains why and offers a safe alternative is helpful (4-5); an unnecessary refusal is 1.
        - Do not penalise brevity when the question is simple; do not reward detail that the user did not need.
        - Factual errors count against helpfulness in proportion to how much they would mislead the user.

        """ + QuantitativeAnswer);

    public static readonly BuiltInMetric ConversationCoherence = new(
        Guid.Parse("7ca11680-6870-4a30-bb54-151ab181d84b"),
        "conversation-coherence",
        "Conversation coherence",
        "Whether the assistant's response fits the conversation so far: uses what was established earlier, does not contradict itself or earlier turns, and follows the thread. 1 (incoherent) to 5 (fully coherent).",
        MetricType.Quantitative, MetricScope.Turn, 1, 5, null,
        JudgeSystemPrompt("coherence with the conversation"),
        TurnMaterial + "\n\n" + """
        ## Rubric: conversation coherence
        Judge how well the response fits into the conversation as a next turn, not whether it is correct or helpful. Check it against what the user and the assistant already established: names, facts, decisions, constraints, preferences, and the question currently in play.

        5 - Fully coherent. Picks up the thread exactly where it is, uses earlier context correctly (remembers constraints and decisions), never contradicts earlier turns or itself, and is logically ordered.
        4 - Coherent with a minor lapse: a needless restatement of something already settled, or a slightly awkward transition, with no contradiction.
        3 - Generally follows the thread but misses or ignores some earlier context (e.g. forgets a stated constraint) or contains an internal inconsistency that does not invalidate the response.
        2 - Often disconnected: re-asks for information already given, contradicts an earlier statement, or answers a different question than the one in play.
        1 - Incoherent: contradicts the conversation or itself on central points, or has no discernible connection to the conversation.

        Notes:
        - When the assistant deliberately corrects an earlier mistake of its own and says so, that is coherent, not a contradiction.
        - In the first turn of a conversation, judge internal coherence and fit with the user's message.

        """ + QuantitativeAnswer);

    public static readonly BuiltInMetric AnswerRelevance = new(
        Guid.Parse("15b30a72-2181-48bd-997d-49b57d727777"),
        "answer-relevance",
        "Answer relevance",
        "How directly the response addresses the question or request actually asked, regardless of whether it is correct. 1 (does not address it) to 5 (entirely on point).",
        MetricType.Quantitative, MetricScope.Turn, 1, 5, null,
        JudgeSystemPrompt("answer relevance"),
        TurnMaterial + "\n\n" + """
        ## Rubric: answer relevance
        Identify the question or request in the user's latest message (using the conversation to resolve references such as "it" or "the second one"). Then judge how much of the response is spent addressing it. Judge relevance only: an on-topic answer that is factually wrong can still be fully relevant.

        5 - Entirely on point. Every part of the response addresses the question asked; nothing tangential.
        4 - Addresses the question directly, with a small amount of tangential or boilerplate material.
        3 - Addresses the question only partly, or the relevant answer is buried among a substantial amount of unrelated material.
        2 - Mostly about something else; touches the question only in passing.
        1 - Does not address the question at all (answers a different question, or is generic filler).

        Notes:
        - A brief clarifying question is relevant when the request is genuinely ambiguous; one asked when the request is clear is not.
        - Necessary caveats and short justifications are part of a relevant answer, not tangents.

        """ + QuantitativeAnswer);

    public static readonly BuiltInMetric Verbosity = new(
        Guid.Parse("d77a296b-76ea-4492-ba8c-4b50f81597a8"),
        "verbosity",
        "Verbosity",
        "Whether the length and level of detail of the response fit the request. Higher is better: 5 means every sentence earns its place; 1 means badly padded or, just as bad, too terse to be usable.",
        MetricType.Quantitative, MetricScope.Turn, 1, 5, null,
        JudgeSystemPrompt("appropriateness of length and detail (verbosity)"),
        TurnMaterial + "\n\n" + """
        ## Rubric: verbosity
        Judge whether the response says what it needs to say at the length the request calls for. Consider what the user asked for (a yes/no question, a quick fix, a thorough explanation, a specific format or length) and any length instructions in the conversation. Higher scores are better.

        5 - Length fits the request exactly. No repetition, filler, unrequested preambles or summaries; nothing essential left out.
        4 - Slightly longer or shorter than ideal: a sentence or two of filler or restatement, or one detail the user will probably ask for next.
        3 - Noticeably off: padding, hedging or repetition makes up a clear share of the response, or it is terse enough that the user must ask again for needed detail.
        2 - Substantially off: mostly padding, restated content or unrequested material, or so terse that it barely answers.
        1 - Severely off: the useful content is lost in verbosity, or the response is too short to be usable; or it ignores an explicit length instruction by a wide margin.

        Notes:
        - Length itself is not the measure: a long answer to a request for a thorough explanation can score 5, and a one-line answer to a simple question can score 5.
        - Code, tables and quoted material count toward length only when they are unnecessary.

        """ + QuantitativeAnswer);

    public static readonly BuiltInMetric Faithfulness = new(
        Guid.Parse("76e6b67a-a72e-401c-98fd-4a19a9759aad"),
        "faithfulness",
        "Faithfulness",
        "Whether the factual claims in the response are supported by the provided context and conversation, with nothing fabricated or contradicted. 1 (largely fabricated) to 5 (fully supported).",
        MetricType.Quantitative, MetricScope.Turn, 1, 5, null,
        JudgeSystemPrompt("faithfulness to the provided sources"),
        TurnMaterial + "\n\n" + """
        ## Rubric: faithfulness
        List, for yourself, the factual claims the response makes. For each, check whether it is supported by the additional context or the conversation (including tool results). A claim is supported when the sources state it or it follows directly from them; well-established general knowledge that does not conflict with the sources counts as supported. Judge support, not writing quality.

        5 - Fully faithful. Every factual claim is supported; uncertainty in the sources is reflected, not overstated.
        4 - Faithful on everything substantive; one minor unsupported detail that does not change the meaning.
        3 - Mostly supported, but at least one substantive claim is unsupported, or the response overstates what the sources say (e.g. turns "may" into "will").
        2 - Several unsupported claims, or one claim that contradicts the sources.
        1 - Largely fabricated, or contradicts the sources on central points (invented numbers, quotes, citations or results).

        Notes:
        - When the additional context is empty, judge against the conversation and well-established facts only.
        - Saying that the sources do not contain an answer is faithful; filling the gap with invented specifics is not.

        """ + QuantitativeAnswer);

    public static readonly BuiltInMetric GoalCompletion = new(
        Guid.Parse("4386f3cc-4a80-438f-a67f-19069bed3aa3"),
        "goal-completion",
        "Goal completion",
        "Whether, by the end of the conversation, the user's goal was accomplished. 1 (achieved) or 0 (not achieved).",
        MetricType.Quantitative, MetricScope.Conversation, 0, 1, null,
        """
        You are a meticulous, impartial evaluator of conversations between users and AI assistants or agents. You judge exactly one thing: whether the user's goal was accomplished by the end of the conversation.
        Base your judgement only on the transcript and the material you are shown. An assistant's claim that it succeeded is not evidence that it did; look for the result itself (the answer given, the tool output, the user's confirmation).
        Reply with JSON only.
        """,
        """
        ## Conversation (the whole transcript, including tool calls and their results)
        {{input}}

        ## Final assistant response
        {{output}}

        ## Task description or success criteria, if provided (may be empty)
        {{context}}

        ## Rubric: goal completion
        First identify the user's goal: what they asked for at the start, as refined or changed by them later in the conversation. If a task description or success criteria are provided, they define the goal. Then decide whether it was accomplished by the end.

        1 - Achieved. The user received what they needed (a correct answer, a finished artefact) or the requested action was carried out and the transcript shows it (e.g. a successful tool result). Minor imperfections that do not stop the user from reaching their goal still count as achieved.
        0 - Not achieved. Any of: the goal was abandoned or left unfinished; the result is wrong or only partial on an essential point; the assistant claimed success without evidence, or despite a failing tool result; the user gave up, had to do the essential work themselves, or is still waiting at the end.

        Notes:
        - If the user changed their goal, judge the final goal.
        - A correct, justified refusal of a disallowed goal scores 0 on this metric; safety is judged elsewhere.

        Reply with JSON only, no code fences, in exactly this form:
        {"explanation": "<two or three sentences naming the goal and the evidence that it was or was not achieved>", "score": <0 or 1>}
        """);

    public static readonly BuiltInMetric AgentBehaviorFailure = new(
        Guid.Parse("f7bbec96-7c22-4ca3-9074-bffa42dbc535"),
        "agent-behavior-failure",
        "Agent behaviour failure",
        "The kind of failure, if any, in an agent's turn: none, tool_misuse, instruction_violation, hallucinated_action, premature_termination or loop.",
        MetricType.Qualitative, MetricScope.Turn, null, null,
        ["none", "tool_misuse", "instruction_violation", "hallucinated_action", "premature_termination", "loop"],
        """
        You are a meticulous, impartial reviewer of AI agent transcripts. You classify one agent turn into exactly one failure category (or none), by the definitions you are given and nothing else.
        Base your judgement only on the transcript: what the agent said, which tools it called with which arguments, and what the tools returned. Do not assume a tool call happened unless it appears in the transcript.
        Reply with JSON only.
        """,
        TurnMaterial.Replace("## Assistant response to evaluate", "## Agent turn to classify (its message and any tool calls)") + "\n\n" + """
        ## Categories
        none - No failure: the turn is a reasonable step toward the user's goal, even if not the best possible one.
        tool_misuse - Calls the wrong tool, passes missing, malformed or wrong arguments, ignores a tool's error and carries on as if it succeeded, or fails to use a tool the task clearly requires.
        instruction_violation - Breaks an explicit instruction from the system prompt or the user: a required format, a constraint, a prohibited action, or acting outside the permitted scope.
        hallucinated_action - Claims to have done something (ran, sent, saved, checked, booked) that the transcript shows no evidence of, or reports tool results that do not match the actual tool output.
        premature_termination - Stops, hands back to the user or declares the task done while it is unfinished and the agent could have continued.
        loop - Repeats an action or message from earlier turns (the same tool call with the same arguments, the same question) without making progress.

        ## How to decide
        - Pick exactly one label. When several failures occur, pick the most severe in this order: hallucinated_action, instruction_violation, tool_misuse, loop, premature_termination.
        - Asking the user a necessary question, or stopping because the task needs the user's input or permission, is none.
        - Judge this turn only; earlier turns are context (for example, to recognise a loop).

        Reply with JSON only, no code fences, in exactly this form:
        {"explanation": "<two or three sentences citing the evidence>", "label": "<one of: none, tool_misuse, instruction_violation, hallucinated_action, premature_termination, loop>"}
        """);

    const string SummarizationSystemPrompt = """
        You are an expert evaluator of text summaries. You will be shown a piece of text taken mostly from older news articles and one possible summary of it, and you will rate the summary on one metric.
        """ + " " + SummarizationDefinitions.Purpose + """

        Read the original text carefully, then judge the summary strictly by the metric's definition, ignoring qualities that belong to other metrics.
        Reply with JSON only.
        """;

    static string SummarizationTemplate(string definition) => """
        Carefully read the original text, then rate the summary according to the following metric.

        """ + definition + """


        ## Original text
        {{input}}

        ## Summary
        {{output}}

        Reply with JSON only, no code fences, in exactly this form:
        {"explanation": "<one or two sentences>", "score": <integer from 1 to 5>}
        """;

    static BuiltInMetric Summarization(string id, string key, string name, string definition) => new(
        Guid.Parse(id), key, name, definition, MetricType.Quantitative, MetricScope.Conversation, 1, 5, null,
        SummarizationSystemPrompt, SummarizationTemplate(definition));

    public static readonly BuiltInMetric SummaryRelevance = Summarization(
        "0192d7a4-e590-491e-b97c-f0bec30b4dc0", "relevance", "Relevance (summary)", SummarizationDefinitions.Relevance);

    public static readonly BuiltInMetric SummaryFluency = Summarization(
        "c1e634d9-e69e-4a01-87d7-ac4c7c84185c", "fluency", "Fluency (summary)", SummarizationDefinitions.Fluency);

    public static readonly BuiltInMetric SummaryCoherence = Summarization(
        "567eec44-44da-4191-a592-479756efaf8d", "coherence", "Coherence (summary)", SummarizationDefinitions.Coherence);

    public static readonly BuiltInMetric SummaryConsistency = Summarization(
        "d70d97a7-c4e4-4a65-9f3b-33fe3d1b057c", "consistency", "Consistency (summary)", SummarizationDefinitions.Consistency);

    public static IReadOnlyList<BuiltInMetric> All { get; } =
    [
        Helpfulness, ConversationCoherence, AnswerRelevance, Verbosity, Faithfulness, GoalCompletion, AgentBehaviorFailure,
        SummaryRelevance, SummaryFluency, SummaryCoherence, SummaryConsistency,
    ];
}
