using Microsoft.ML.Tokenizers;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>
/// Counts tokens with the o200k_base encoding (GPT-4o and later; the data ships in a package, nothing is downloaded).
/// Other models' tokenizers differ a little, which is why batches keep headroom below the context window.
/// </summary>
public static class TokenCounter
{
    /// <summary>Tokens a chat message costs beyond its text (role and separators), per the chat format.</summary>
    public const int PerMessageOverhead = 4;

    static readonly Lazy<Tokenizer> Tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public static int Count(string text) => string.IsNullOrEmpty(text) ? 0 : Tokenizer.Value.CountTokens(text);

    public static int CountChat(string systemPrompt, string userPrompt) =>
        Count(systemPrompt) + Count(userPrompt) + 2 * PerMessageOverhead + 3;
}
