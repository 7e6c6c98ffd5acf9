using System.Text.Json;
using MetricAlignment.Alignment.Persistence;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Primitives;
using Npgsql;

namespace MetricAlignment.Alignment.Api;

/// <summary>
/// The serialised JSON of runs (GET /api/alignment-runs/{id}) and of run summaries (a metric's history), kept per
/// (run id, saga version). Every request still reads the run's current version from the database, in the same single
/// query that would fetch the document, and a cached body is served only for exactly that version: a run is never shown
/// older than the database (the staleness bound is zero), whichever process changed it. What the cache saves is the
/// document's transfer, its deserialisation, the projection and the serialisation. Entries remember their workspace
/// and the query filters on the caller's, so another workspace's run answers 404 as before, cached or not.
/// </summary>
public sealed class RunResponseCache
{
    public const string EnabledKey = "Alignment:ResponseCache:Enabled";
    public const string MaxBytesKey = "Alignment:ResponseCache:MaxBytes";
    public const long DefaultMaxBytes = 64L << 20;
    const string JsonContentType = "application/json; charset=utf-8";

    readonly MemoryCache cache;
    readonly JsonSerializerOptions json;

    public RunResponseCache(JsonSerializerOptions json, long maxBytes)
    {
        this.json = json;
        cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = Math.Max(maxBytes, 1) });
    }

    sealed record Entry(string Workspace, int Version, byte[] Body);

    // Distinct key types keep a run's full body and its summary apart in one cache.
    readonly record struct RunKey(Guid Id);
    readonly record struct SummaryKey(Guid Id);
    // The (id, version) pairs last seen on a history page: the next read of that page sends them as already known.
    readonly record struct PageKey(string Workspace, Guid MetricId, int Limit, Guid? Before);

    /// <summary>The run as JSON, or null when it does not exist in <paramref name="workspace"/>.</summary>
    public async Task<IResult?> GetRunAsync(NpgsqlDataSource dataSource, string workspace, Guid id, CancellationToken cancellationToken)
    {
        var cached = cache.TryGetValue(new RunKey(id), out Entry? hit) && hit!.Workspace == workspace ? hit : null;
        var read = await AlignmentRunStore.GetIfChangedAsync(dataSource, workspace, id, cached?.Version ?? -1, cancellationToken);
        if (read is not { } current) return null;
        if (current.Run is null && cached is not null && cached.Version == current.Version)
            return new JsonBody(cached.Body, ETag(id, current.Version));
        var run = current.Run
            // Evicted between the check and now: read it whole.
            ?? (await AlignmentRunStore.GetIfChangedAsync(dataSource, workspace, id, -1, cancellationToken))?.Run;
        if (run is null) return null;
        var body = JsonSerializer.SerializeToUtf8Bytes(AlignmentRunResponse.From(run), json);
        Store(new RunKey(id), new Entry(workspace, run.Version, body));
        return new JsonBody(body, ETag(id, run.Version));
    }

    /// <summary>A history page as a JSON array of summaries, or null when <paramref name="before"/> is not a run of the metric.</summary>
    public async Task<(IResult Result, Guid? LastId, int Count)?> GetHistoryAsync(NpgsqlDataSource dataSource, string workspace, Guid metricId, int limit, Guid? before,
        CancellationToken cancellationToken)
    {
        var pageKey = new PageKey(workspace, metricId, limit, before);
        var known = new List<(Guid Id, int Version)>();
        if (cache.TryGetValue(pageKey, out (Guid Id, int Version)[]? lastPage))
            foreach (var (id, version) in lastPage!)
                if (cache.TryGetValue(new SummaryKey(id), out Entry? entry) && entry!.Workspace == workspace && entry.Version == version)
                    known.Add((id, version));

        var page = await AlignmentRunStore.ListSummariesIfChangedAsync(dataSource, workspace, metricId, limit, before, known, cancellationToken);
        if (page is null) return null;
        var bodies = Bodies(page, workspace);
        if (bodies is null)
        {
            // A summary reported as known was evicted meanwhile: read the page whole.
            page = await AlignmentRunStore.ListSummariesIfChangedAsync(dataSource, workspace, metricId, limit, before, [], cancellationToken);
            if (page is null) return null;
            bodies = Bodies(page, workspace)!;
        }
        Store(pageKey, page.Select(e => (e.Id, e.Version)).ToArray(), 32 + page.Count * 20);

        var length = 2 + bodies.Sum(b => b.Length) + Math.Max(bodies.Count - 1, 0);
        var array = new byte[length];
        array[0] = (byte)'[';
        var offset = 1;
        for (var i = 0; i < bodies.Count; i++)
        {
            if (i > 0) array[offset++] = (byte)',';
            bodies[i].CopyTo(array, offset);
            offset += bodies[i].Length;
        }
        array[offset] = (byte)']';
        return (new JsonBody(array, null), page.Count > 0 ? page[^1].Id : null, page.Count);
    }

    List<byte[]>? Bodies(IReadOnlyList<AlignmentRunStore.SummaryEntry> page, string workspace)
    {
        var bodies = new List<byte[]>(page.Count);
        foreach (var entry in page)
        {
            if (entry.Run is { } run)
            {
                var body = JsonSerializer.SerializeToUtf8Bytes(AlignmentRunSummary.From(run, entry.GuidelineCount), json);
                Store(new SummaryKey(entry.Id), new Entry(workspace, entry.Version, body));
                bodies.Add(body);
            }
            else if (cache.TryGetValue(new SummaryKey(entry.Id), out Entry? hit) && hit!.Workspace == workspace && hit.Version == entry.Version)
            {
                bodies.Add(hit.Body);
            }
            else
            {
                return null;
            }
        }
        return bodies;
    }

    void Store(object key, Entry entry) => Store(key, entry, entry.Body.Length + 64);

    void Store(object key, object value, long size) => cache.Set(key, value, new MemoryCacheEntryOptions { Size = size });

    // The version alone identifies the representation of one run: ids are in the URL.
    static string ETag(Guid id, int version) => $"\"{id:N}-{version}\"";

    /// <summary>Writes bytes already serialised as JSON; answers 304 when the client's If-None-Match holds the same version.</summary>
    sealed class JsonBody(byte[] body, string? etag) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            var response = http.Response;
            if (etag is not null)
            {
                response.Headers.ETag = etag;
                // The body changes with the saga version, so a cache must ask again each time.
                response.Headers.CacheControl = "no-cache";
                if (http.Request.Headers.IfNoneMatch is { Count: > 0 } ifNoneMatch && Matches(ifNoneMatch, etag))
                {
                    response.StatusCode = StatusCodes.Status304NotModified;
                    return Task.CompletedTask;
                }
            }
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = JsonContentType;
            response.ContentLength = body.Length;
            return response.Body.WriteAsync(body.AsMemory(), http.RequestAborted).AsTask();
        }

        static bool Matches(StringValues ifNoneMatch, string etag)
        {
            foreach (var value in ifNoneMatch)
                foreach (var tag in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    if (tag == "*" || tag == etag || tag == "W/" + etag) return true;
            return false;
        }
    }
}
