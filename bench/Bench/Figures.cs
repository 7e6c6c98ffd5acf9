using System.Globalization;
using System.Text;

namespace MetricAlignment.Bench;

/// <summary>
/// One measured figure. When it has a reference measured in the same run (the physical limit: raw COPY, raw
/// MassTransit, the HTTP floor...), the ratio value / reference is what the target applies to.
/// </summary>
public sealed record Figure(string Benchmark, string Name, double Value, string Unit)
{
    public double? Reference { get; init; }
    public string? ReferenceName { get; init; }
    /// <summary>The ratio value / reference must stay at or below this.</summary>
    public double? TargetRatio { get; init; }
    /// <summary>The value itself must stay below this.</summary>
    public double? TargetMax { get; init; }
    public string? Note { get; init; }

    public double? Ratio => Reference is > 0 && double.IsFinite(Value) ? Value / Reference : null;

    public string Verdict =>
        TargetRatio is { } ratioTarget ? (Ratio is { } ratio ? (ratio <= ratioTarget ? "met" : "NOT met") : "no reference")
        : TargetMax is { } max ? (Value < max ? "met" : "NOT met")
        : "";

    public string Target =>
        TargetRatio is { } r ? string.Create(CultureInfo.InvariantCulture, $"<= {r:0.##}x")
        : TargetMax is { } m ? string.Create(CultureInfo.InvariantCulture, $"< {m:0.##} {Unit}")
        : "";
}

/// <summary>Collects figures and prints them as a table (and as a markdown table for RESULTS.md).</summary>
public sealed class Report
{
    readonly List<Figure> figures = [];
    readonly TextWriter output;

    public Report(TextWriter output) => this.output = output;

    public IReadOnlyList<Figure> Figures => figures;

    public void Add(Figure figure)
    {
        figures.Add(figure);
        output.WriteLine($"[bench] {Line(figure)}");
    }

    public void Note(string text) => output.WriteLine($"[bench] {text}");

    static string Line(Figure f)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{f.Benchmark} | {f.Name}: {Format(f.Value)} {f.Unit}"));
        if (f.Reference is { } reference)
            text.Append(CultureInfo.InvariantCulture, $" vs {f.ReferenceName} {Format(reference)} {f.Unit} = {f.Ratio:0.00}x");
        if (f.Target.Length > 0) text.Append($" (target {f.Target}: {f.Verdict})");
        if (f.Note is not null) text.Append($" — {f.Note}");
        return text.ToString();
    }

    public string Markdown()
    {
        var text = new StringBuilder();
        text.AppendLine("| benchmark | figure | value | reference | ratio | target | verdict |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var f in figures)
        {
            var reference = f.Reference is { } r ? (f.ReferenceName is null ? "" : f.ReferenceName + ": ") + $"{Format(r)} {f.Unit}" : "";
            var ratio = f.Ratio is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + "x" : "";
            var name = f.Note is null ? f.Name : $"{f.Name} ({f.Note})";
            text.AppendLine(CultureInfo.InvariantCulture, $"| {f.Benchmark} | {name} | {Format(f.Value)} {f.Unit} | {reference} | {ratio} | {f.Target} | {f.Verdict} |");
        }
        return text.ToString();
    }

    public static string Format(double value) =>
        Math.Abs(value) >= 100 ? value.ToString("#,0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 10 ? value.ToString("0.0", CultureInfo.InvariantCulture)
        : value.ToString("0.00#", CultureInfo.InvariantCulture);
}
