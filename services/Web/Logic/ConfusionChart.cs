using System.Globalization;
using System.Text.Encodings.Web;

namespace MetricAlignment.Web.Logic;

/// <summary>One cell of the judge-vs-human heat map, placed and shaded.</summary>
public sealed record HeatCell(int Row, int Column, int Count, double X, double Y, double Intensity, string Fill, string TextFill, bool Diagonal);

/// <summary>
/// The layout of the confusion matrix as an SVG heat map: rows are the judge's categories, columns the humans'. Shading
/// is by count relative to the largest cell, so the same picture reads on 20 rows or 20,000.
/// </summary>
public sealed class ConfusionChart
{
    public const double CellSize = 44;
    public const double LeftMargin = 64;
    public const double TopMargin = 56;

    public IReadOnlyList<string> Categories { get; }
    public IReadOnlyList<HeatCell> Cells { get; }
    public int MaxCount { get; }
    public int Total { get; }
    public int Agreeing { get; }
    public double Width => LeftMargin + Categories.Count * CellSize + 8;
    public double Height => TopMargin + Categories.Count * CellSize + 8;

    ConfusionChart(IReadOnlyList<string> categories, IReadOnlyList<HeatCell> cells, int maxCount, int total, int agreeing)
    {
        Categories = categories;
        Cells = cells;
        MaxCount = maxCount;
        Total = total;
        Agreeing = agreeing;
    }

    /// <summary>Lays out matrix[judge][human]; ragged or missing rows count as zeros, so a malformed answer still draws.</summary>
    public static ConfusionChart Build(IReadOnlyList<string> categories, IReadOnlyList<IReadOnlyList<int>> matrix)
    {
        var size = categories.Count;
        int Count(int r, int c) => r < matrix.Count && matrix[r] is { } row && c < row.Count ? Math.Max(0, row[c]) : 0;

        var max = 0;
        var total = 0;
        var agreeing = 0;
        for (var r = 0; r < size; r++)
            for (var c = 0; c < size; c++)
            {
                var count = Count(r, c);
                max = Math.Max(max, count);
                total += count;
                if (r == c) agreeing += count;
            }

        var cells = new List<HeatCell>(size * size);
        for (var r = 0; r < size; r++)
            for (var c = 0; c < size; c++)
            {
                var count = Count(r, c);
                var intensity = Intensity(count, max);
                cells.Add(new HeatCell(r, c, count, LeftMargin + c * CellSize, TopMargin + r * CellSize, intensity,
                    Fill(intensity), intensity > 0.55 ? "#ffffff" : "#1f2933", r == c));
            }
        return new ConfusionChart(categories, cells, max, total, agreeing);
    }

    // Razor reserves <text>, so the SVG text elements are written here, encoded.
    public string AxisMarkup()
    {
        var markup = new System.Text.StringBuilder();
        var middle = TopMargin + Categories.Count * CellSize / 2;
        markup.Append(Text(LeftMargin + Categories.Count * CellSize / 2, 14, "middle", "axis-title", "Human (resolved)"));
        markup.Append(Text(14, middle, "middle", "axis-title", "Judge", $"rotate(-90 14 {F(middle)})"));
        for (var i = 0; i < Categories.Count; i++)
        {
            markup.Append(Text(LeftMargin + i * CellSize + CellSize / 2, TopMargin - 8, "middle", "axis-label", Short(Categories[i])));
            markup.Append(Text(LeftMargin - 8, TopMargin + i * CellSize + CellSize / 2 + 4, "end", "axis-label", Short(Categories[i])));
        }
        return markup.ToString();
    }

    public static string CountMarkup(HeatCell cell) => cell.Count == 0
        ? ""
        : Text(cell.X + CellSize / 2 - 1, cell.Y + CellSize / 2 + 3, "middle", "cell-count", cell.Count.ToString(CultureInfo.InvariantCulture), fill: cell.TextFill);

    static string Text(double x, double y, string anchor, string cssClass, string content, string? transform = null, string? fill = null) =>
        $"<text x=\"{F(x)}\" y=\"{F(y)}\" text-anchor=\"{anchor}\" class=\"{cssClass}\""
        + (transform is null ? "" : $" transform=\"{transform}\"")
        + (fill is null ? "" : $" fill=\"{fill}\"")
        + $">{HtmlEncoder.Default.Encode(content)}</text>";

    static string F(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    public static string Short(string category) => category.Length > 7 ? category[..6] + "…" : category;

    /// <summary>0 for an empty cell, otherwise between 0.12 and 1 so that a single row is still visible next to thousands.</summary>
    public static double Intensity(int count, int max) =>
        count <= 0 || max <= 0 ? 0 : 0.12 + 0.88 * Math.Sqrt((double)count / max);

    /// <summary>From near-white to the accent blue (#1d4ed8).</summary>
    public static string Fill(double intensity)
    {
        static int Mix(int from, int to, double t) => (int)Math.Round(from + (to - from) * t);
        var t = Math.Clamp(intensity, 0, 1);
        return $"#{Mix(0xf5, 0x1d, t):x2}{Mix(0xf7, 0x4e, t):x2}{Mix(0xfa, 0xd8, t):x2}";
    }
}
