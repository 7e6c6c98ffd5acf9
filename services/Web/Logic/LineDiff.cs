namespace MetricAlignment.Web.Logic;

public enum DiffKind { Same, Removed, Added }

/// <summary>One line of a diff; OldLine / NewLine are 1-based line numbers on the side(s) the line exists on.</summary>
public sealed record DiffLine(DiffKind Kind, string Text, int? OldLine, int? NewLine);

/// <summary>A line diff by longest common subsequence, as prompt reviews need it: whole lines, stable, readable.</summary>
public static class LineDiff
{
    /// <summary>Above this many LCS cells (after the common head and tail are set aside) the middle is shown replaced whole.</summary>
    public const long MaxTableCells = 4_000_000;

    public static IReadOnlyList<DiffLine> Compute(string? oldText, string? newText)
    {
        var oldLines = Split(oldText);
        var newLines = Split(newText);
        var result = new List<DiffLine>(oldLines.Length + newLines.Length);

        // Prompts mostly change in the middle: the shared head and tail cost nothing and shrink the table.
        var head = 0;
        while (head < oldLines.Length && head < newLines.Length && oldLines[head] == newLines[head]) head++;
        var tail = 0;
        while (tail < oldLines.Length - head && tail < newLines.Length - head
               && oldLines[oldLines.Length - 1 - tail] == newLines[newLines.Length - 1 - tail]) tail++;

        for (var i = 0; i < head; i++) result.Add(new DiffLine(DiffKind.Same, oldLines[i], i + 1, i + 1));
        DiffMiddle(oldLines, newLines, head, oldLines.Length - tail, head, newLines.Length - tail, result);
        for (var k = tail; k > 0; k--)
        {
            int o = oldLines.Length - k, n = newLines.Length - k;
            result.Add(new DiffLine(DiffKind.Same, oldLines[o], o + 1, n + 1));
        }
        return result;
    }

    /// <summary>True when the two texts have the same lines.</summary>
    public static bool Unchanged(IReadOnlyList<DiffLine> diff) => diff.All(line => line.Kind == DiffKind.Same);

    public static (int Added, int Removed) Count(IReadOnlyList<DiffLine> diff) =>
        (diff.Count(l => l.Kind == DiffKind.Added), diff.Count(l => l.Kind == DiffKind.Removed));

    static void DiffMiddle(string[] a, string[] b, int aStart, int aEnd, int bStart, int bEnd, List<DiffLine> result)
    {
        int n = aEnd - aStart, m = bEnd - bStart;
        if ((long)n * m > MaxTableCells)
        {
            for (var i = aStart; i < aEnd; i++) result.Add(new DiffLine(DiffKind.Removed, a[i], i + 1, null));
            for (var j = bStart; j < bEnd; j++) result.Add(new DiffLine(DiffKind.Added, b[j], null, j + 1));
            return;
        }

        // lcs[i, j] = length of the LCS of a[aStart+i..aEnd) and b[bStart+j..bEnd), filled from the end.
        var lcs = new int[n + 1, m + 1];
        for (var i = n - 1; i >= 0; i--)
            for (var j = m - 1; j >= 0; j--)
                lcs[i, j] = a[aStart + i] == b[bStart + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);

        int x = 0, y = 0;
        while (x < n || y < m)
        {
            if (x < n && y < m && a[aStart + x] == b[bStart + y])
            {
                result.Add(new DiffLine(DiffKind.Same, a[aStart + x], aStart + x + 1, bStart + y + 1));
                x++; y++;
            }
            else if (y < m && (x == n || lcs[x, y + 1] > lcs[x + 1, y]))
            {
                // Removals come before additions when both are equally good, as in a unified diff.
                result.Add(new DiffLine(DiffKind.Added, b[bStart + y], null, bStart + y + 1));
                y++;
            }
            else
            {
                result.Add(new DiffLine(DiffKind.Removed, a[aStart + x], aStart + x + 1, null));
                x++;
            }
        }
    }

    static string[] Split(string? text) =>
        string.IsNullOrEmpty(text) ? [] : text.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
}
