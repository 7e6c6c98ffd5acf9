using MetricAlignment.Web.Clients;

namespace MetricAlignment.Web.Logic;

/// <summary>
/// The runs a metric's Alignment section lists: the newest page, re-read while the page is open, followed by the older
/// pages the reader asked for (read once, with the API's <c>before</c> cursor). A refresh replaces what the newest page
/// holds and keeps the older runs already shown, also a run that a newer one pushed off the newest page since, so that
/// asking for more never leaves a gap.
/// </summary>
public sealed class RunHistory
{
    /// <summary>The API's default page size, the size of every page the section reads.</summary>
    public const int PageSize = 50;

    List<AlignmentRun> shown = [];
    bool olderLoaded;

    public IReadOnlyList<AlignmentRun> Runs => shown;

    /// <summary>True while the last page read was full: the metric may have older runs.</summary>
    public bool MayHaveOlder { get; private set; }

    /// <summary>The cursor for the next older page: the oldest run shown.</summary>
    public Guid? OldestShown => shown.Count == 0 ? null : shown[^1].Id;

    /// <summary>A fresh read of the newest page.</summary>
    public void ReplaceNewest(IReadOnlyList<AlignmentRun> newest)
    {
        if (!olderLoaded)
        {
            shown = Ordered(newest);
            MayHaveOlder = newest.Count >= PageSize;
            return;
        }
        var fresh = newest.Select(r => r.Id).ToHashSet();
        shown = Ordered([.. newest, .. shown.Where(r => !fresh.Contains(r.Id))]);
    }

    /// <summary>A page read with <see cref="OldestShown"/> as its cursor.</summary>
    public void AppendOlder(IReadOnlyList<AlignmentRun> older)
    {
        olderLoaded = true;
        var known = shown.Select(r => r.Id).ToHashSet();
        shown = Ordered([.. shown, .. older.Where(r => !known.Contains(r.Id))]);
        MayHaveOlder = older.Count >= PageSize;
    }

    /// <summary>A run just started here, shown before the next read lists it.</summary>
    public void Prepend(AlignmentRun run) => shown = [run, .. shown.Where(r => r.Id != run.Id)];

    // Newest first, as the API pages them (created_at, then id).
    static List<AlignmentRun> Ordered(IEnumerable<AlignmentRun> runs) =>
        runs.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).ToList();
}
