namespace MetricAlignment.Metrics.Catalogue;

/// <summary>
/// The four summarization metrics exactly as the GPT-4 judge of the summarization dataset (Sottana et al., EMNLP 2023)
/// was told them, from data/summarization-gpt4-vs-humans/judge_prompt.txt. Copied verbatim so the built-in metrics
/// start from the prompt whose disagreement with the human reviewers the dataset records; the service never reads data/.
/// </summary>
public static class SummarizationDefinitions
{
    public const string Purpose = """
        The purpose of text summarization is to make the text shorter and more concise without changing its overall meaning, omitting unimportant details while retaining the key content of the story.
        """;

    public const string Relevance = """
        Relevance. This assesses the quality of selection of important content from the source. The summary should include only important information from the source document. Please penalize summaries which contain redundancies and excess information. Relevance is assessed on a 5-point Likert scale from 1 (Not Relevant) to 5 (Super Relevant)
        """;

    public const string Fluency = """
        Fluency. This assesses the quality of individual sentences. Sentences in the summary should have no formatting problems, capitalization errors or obviously ungrammatical sentences (e.g., fragments, missing components) that make the text difficult to read. Fluency is assessed on a 5-point Likert scale from 1 (Not Fluent) to 5 (Super Fluent)
        """;

    public const string Coherence = """
        Coherence. This assesses the collective quality of all sentences. The summary should be well-structured and well-organized. The summary should not just be a heap of related information, but should build from sentence to sentence to a coherent body of information about a topic. Coherence is assessed on a 5-point Likert scale from 1 (Not Coherent) to 5 (Super Coherent)
        """;

    public const string Consistency = """
        Consistency. This assesses the factual alignment between the summary and the summarized source. A factually consistent summary contains only statements that are entailed by the source document. Summaries that contain hallucinated facts (information which is not present in the source document) should be penalized. Consistency is assessed on a 5-point Likert scale from 1 (Not Consistent) to 5 (Super Consistent)
        """;
}
