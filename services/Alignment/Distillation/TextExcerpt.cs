using System.Text;

namespace MetricAlignment.Alignment.Distillation;

internal static class TextExcerpt
{
    /// <summary>The text on one line (whitespace collapsed), cut at a word boundary to at most <paramref name="maxLength"/> characters.</summary>
    public static string Of(string? text, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        var collapsed = new StringBuilder(Math.Min(text.Length, maxLength * 2));
        var pendingSpace = false;
        foreach (var ch in text)
        {
            if (char.IsWhiteSpace(ch))
            {
                pendingSpace = collapsed.Length > 0;
                continue;
            }
            if (pendingSpace) collapsed.Append(' ');
            pendingSpace = false;
            collapsed.Append(ch == '"' ? '\'' : ch);
            if (collapsed.Length > maxLength + 1) break;
        }
        if (collapsed.Length <= maxLength) return collapsed.ToString();
        var cut = collapsed.ToString(0, maxLength);
        var lastSpace = cut.LastIndexOf(' ');
        if (lastSpace > maxLength / 2) cut = cut[..lastSpace];
        return cut.TrimEnd() + "…";
    }
}
