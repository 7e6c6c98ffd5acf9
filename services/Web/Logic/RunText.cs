namespace MetricAlignment.Web.Logic;

/// <summary>The words the page uses for the Alignment service's codes.</summary>
public static class RunText
{
    public static string Status(string status) => status switch
    {
        "pending" => "Queued",
        "running" => "Running",
        "aligned" => "Aligned",
        "accepting" => "Accepting",
        "accepted" => "Accepted",
        "discarded" => "Discarded",
        "error" => "Failed",
        "cancelled" => "Cancelled",
        _ => status,
    };

    public static string Phase(string? phase) => phase switch
    {
        null or "" => "waiting for a worker",
        "loading_annotations" => "loading annotations",
        "building_disagreement_traces" => "building disagreement traces",
        "distilling_guidelines" => "distilling guidelines",
        "finalizing" => "finalizing",
        _ => phase.Replace('_', ' '),
    };

    public static string Percent(double? value) => value is { } v ? $"{v * 100:0.#}%" : "—";

    public static string Number(double? value) => value is { } v ? v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) : "—";

    public static string Author(string? kind, string? author) => kind switch
    {
        "seed" => "built-in catalogue",
        "alignment_run" => $"alignment run ({author})",
        _ => author ?? "unknown",
    };
}
