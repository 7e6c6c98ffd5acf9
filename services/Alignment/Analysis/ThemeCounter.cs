using System.Text;

namespace MetricAlignment.Alignment.Analysis;

/// <summary>
/// Counts, per row, the distinct words and adjacent word pairs of a free text (stop-words dropped), in a vocabulary
/// bounded by <see cref="Capacity"/>: when it overflows, every entry at the lowest count is dropped at once, which
/// is independent of arrival order among equals and keeps the recurring phrases.
/// </summary>
internal sealed class ThemeCounter(string source)
{
    public const int Capacity = 5000;
    const int SamplesPerPhrase = 3;

    static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our", "out",
        "has", "him", "his", "how", "its", "may", "now", "own", "she", "too", "use", "who", "why", "did", "get", "yet",
        "this", "that", "with", "have", "from", "they", "will", "would", "there", "their", "what", "about", "which",
        "when", "were", "been", "than", "then", "them", "these", "those", "some", "such", "into", "only", "also", "very",
        "just", "more", "most", "much", "does", "each", "other", "over", "under", "while", "where", "should", "could",
        "being", "because", "here", "it's", "its", "is", "it", "of", "to", "in", "on", "at", "by", "an", "as", "be",
        "or", "if", "so", "do", "no", "we", "he", "me", "my", "up", "i", "a", "am", "us", "well", "quite", "rather",
        "even", "still", "both", "few", "again", "same", "after", "before", "between", "through", "during", "however",
        "although", "though", "overall", "really", "summary", "output", "response", "answer", "text", "score",
    };

    readonly Dictionary<string, Entry> entries = new(StringComparer.Ordinal);

    sealed class Entry
    {
        public int Rows;
        public int DisagreementRows;
        public readonly List<Guid> Samples = [];
    }

    /// <summary>Counts each phrase once per row, however many of the row's texts (e.g. reviewers' comments) mention it.</summary>
    public void Add(IEnumerable<string?> texts, Guid rowId, bool isDisagreement)
    {
        var phrases = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in texts)
            if (!string.IsNullOrWhiteSpace(text))
                phrases.AddRange(Phrases(text).Where(seen.Add));
        if (phrases.Count == 0) return;
        foreach (var phrase in phrases)
        {
            if (!entries.TryGetValue(phrase, out var entry)) entries[phrase] = entry = new Entry();
            entry.Rows++;
            if (!isDisagreement) continue;
            entry.DisagreementRows++;
            if (entry.Samples.Count < SamplesPerPhrase) entry.Samples.Add(rowId);
        }
        if (entries.Count > Capacity) DropRarest();
    }

    void DropRarest()
    {
        var lowest = entries.Values.Min(e => e.Rows);
        foreach (var phrase in entries.Where(e => e.Value.Rows == lowest).Select(e => e.Key).ToList())
            entries.Remove(phrase);
    }

    /// <summary>Phrases seen in at least <paramref name="minimumDisagreementRows"/> disagreement rows, most frequent first.</summary>
    public IReadOnlyList<CommentTheme> Themes(int count, int minimumDisagreementRows) =>
        entries
            .Where(e => e.Value.DisagreementRows >= minimumDisagreementRows)
            .OrderByDescending(e => e.Value.DisagreementRows)
            .ThenByDescending(e => e.Value.Rows)
            .ThenBy(e => e.Key, StringComparer.Ordinal)
            .Take(count)
            .Select(e => new CommentTheme
            {
                Source = source,
                Phrase = e.Key,
                Rows = e.Value.Rows,
                DisagreementRows = e.Value.DisagreementRows,
                SampleRowIds = e.Value.Samples.ToList(),
            })
            .ToList();

    /// <summary>The distinct content words and adjacent content-word pairs of a text, in order of first appearance.</summary>
    internal static IEnumerable<string> Phrases(string text)
    {
        var words = Words(text).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? previous = null;
        foreach (var word in words)
        {
            if (word.Length < 3 || StopWords.Contains(word) || word.All(char.IsDigit))
            {
                previous = null;
                continue;
            }
            if (seen.Add(word)) yield return word;
            if (previous is not null)
            {
                var pair = previous + " " + word;
                if (seen.Add(pair)) yield return pair;
            }
            previous = word;
        }
    }

    static IEnumerable<string> Words(string text)
    {
        var current = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsLetterOrDigit(ch) || (ch == '\'' && current.Length > 0))
            {
                current.Append(char.ToLowerInvariant(ch));
                continue;
            }
            if (current.Length > 0) yield return current.ToString().TrimEnd('\'');
            current.Clear();
        }
        if (current.Length > 0) yield return current.ToString().TrimEnd('\'');
    }
}
