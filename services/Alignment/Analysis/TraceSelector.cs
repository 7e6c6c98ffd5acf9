namespace MetricAlignment.Alignment.Analysis;

/// <summary>
/// Keeps the most instructive disagreement traces in bounded heaps — one per stratum (judge level and direction)
/// and a smaller one per value of each low-cardinality tag — then picks a diverse, deterministic selection from them.
/// Ties on instructiveness are broken by row id, so the same rows give the same traces whatever the heap history.
/// </summary>
internal sealed class TraceSelector
{
    readonly int stratumCapacity;
    readonly int tagCapacity;
    readonly Dictionary<string, PriorityQueue<Candidate, Candidate>> strata = new(StringComparer.Ordinal);
    readonly Dictionary<string, PriorityQueue<Candidate, Candidate>> tagValues = new(StringComparer.Ordinal);

    internal sealed record Candidate(DisagreementTrace Trace, double Score, string Stratum);

    /// <summary>Orders the heap worst first: lower score, then higher row id.</summary>
    sealed class WorstFirst : IComparer<Candidate>
    {
        public static readonly WorstFirst Instance = new();
        public int Compare(Candidate? x, Candidate? y)
        {
            var byScore = x!.Score.CompareTo(y!.Score);
            return byScore != 0 ? byScore : y.Trace.RowId.CompareTo(x.Trace.RowId);
        }
    }

    public TraceSelector(int maxTraces)
    {
        stratumCapacity = maxTraces;
        tagCapacity = Math.Max(1, maxTraces / 10);
    }

    static string TagKey(string key, string value) => key + "\u001f" + value;

    /// <summary>Whether a row with this score would be kept by any heap (to skip building traces that would be dropped).</summary>
    public bool WouldKeep(double score, Guid rowId, string stratum, IEnumerable<KeyValuePair<string, string>> trackedTags)
    {
        if (stratumCapacity == 0) return false;
        if (Accepts(strata, stratum, stratumCapacity, score, rowId)) return true;
        return trackedTags.Any(t => Accepts(tagValues, TagKey(t.Key, t.Value), tagCapacity, score, rowId));
    }

    static bool Accepts(Dictionary<string, PriorityQueue<Candidate, Candidate>> heaps, string key, int capacity, double score, Guid rowId)
    {
        if (!heaps.TryGetValue(key, out var heap) || heap.Count < capacity) return true;
        var worst = heap.Peek();
        return score > worst.Score || (score == worst.Score && rowId.CompareTo(worst.Trace.RowId) < 0);
    }

    public void Add(Candidate candidate, IEnumerable<KeyValuePair<string, string>> trackedTags)
    {
        if (stratumCapacity == 0) return;
        Offer(strata, candidate.Stratum, stratumCapacity, candidate);
        foreach (var tag in trackedTags)
            Offer(tagValues, TagKey(tag.Key, tag.Value), tagCapacity, candidate);
    }

    static void Offer(Dictionary<string, PriorityQueue<Candidate, Candidate>> heaps, string key, int capacity, Candidate candidate)
    {
        if (!heaps.TryGetValue(key, out var heap)) heaps[key] = heap = new PriorityQueue<Candidate, Candidate>(WorstFirst.Instance);
        if (heap.Count < capacity) heap.Enqueue(candidate, candidate);
        else if (WorstFirst.Instance.Compare(candidate, heap.Peek()) > 0) heap.DequeueEnqueue(candidate, candidate);
    }

    /// <summary>Forgets the heaps of a tag that turned out to identify rows rather than group them.</summary>
    public void DropTag(string key)
    {
        foreach (var heapKey in tagValues.Keys.Where(k => k.StartsWith(key + "\u001f", StringComparison.Ordinal)).ToList())
            tagValues.Remove(heapKey);
    }

    public int CandidateCount => strata.Values.Sum(h => h.Count) + tagValues.Values.Sum(h => h.Count);

    /// <summary>
    /// Greedy pick: each step takes the candidate with the best score / (1 + picks already made from its stratum
    /// + average picks already made with its tag values), so large deltas come first but strata and tags share the room.
    /// </summary>
    public IReadOnlyList<DisagreementTrace> Select(int count, IReadOnlyCollection<string> trackedTagKeys)
    {
        var remaining = strata.Values.Concat(tagValues.Values)
            .SelectMany(h => h.UnorderedItems.Select(i => i.Element))
            .DistinctBy(c => c.Trace.RowId)
            .OrderByDescending(c => c.Score)
            .ThenBy(c => c.Trace.RowId)
            .ToList();
        var stratumPicks = new Dictionary<string, int>(StringComparer.Ordinal);
        var tagPicks = new Dictionary<string, int>(StringComparer.Ordinal);
        var selected = new List<DisagreementTrace>();
        while (selected.Count < count && remaining.Count > 0)
        {
            var bestIndex = 0;
            var bestValue = double.NegativeInfinity;
            for (var i = 0; i < remaining.Count; i++)
            {
                var candidate = remaining[i];
                var tagPenalty = 0d;
                if (trackedTagKeys.Count > 0)
                {
                    foreach (var key in trackedTagKeys)
                        if (candidate.Trace.Tags.TryGetValue(key, out var value))
                            tagPenalty += tagPicks.GetValueOrDefault(TagKey(key, value));
                    tagPenalty /= trackedTagKeys.Count;
                }
                var value2 = candidate.Score / (1 + stratumPicks.GetValueOrDefault(candidate.Stratum) + tagPenalty);
                if (value2 > bestValue)
                {
                    bestValue = value2;
                    bestIndex = i;
                }
            }
            var best = remaining[bestIndex];
            remaining.RemoveAt(bestIndex);
            selected.Add(best.Trace);
            stratumPicks[best.Stratum] = stratumPicks.GetValueOrDefault(best.Stratum) + 1;
            foreach (var key in trackedTagKeys)
                if (best.Trace.Tags.TryGetValue(key, out var value))
                    tagPicks[TagKey(key, value)] = tagPicks.GetValueOrDefault(TagKey(key, value)) + 1;
        }
        return selected;
    }
}
