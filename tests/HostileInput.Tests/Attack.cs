using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace MetricAlignment.HostileInput.Tests;

/// <summary>One hostile request. Content is built per send so that an attack can be replayed.</summary>
public sealed record Attack(string Description, HttpMethod Method, string Url, Func<HttpContent?>? Content = null)
{
    public static Attack Get(string description, string url) => new(description, HttpMethod.Get, url);

    public static Attack Send(string description, HttpMethod method, string url, string body, string contentType = "application/json") =>
        new(description, method, url, () => Bytes(Encoding.UTF8.GetBytes(body), contentType));

    public static Attack SendBytes(string description, HttpMethod method, string url, byte[] body, string contentType = "application/json") =>
        new(description, method, url, () => Bytes(body, contentType));

    public static Attack SendLarge(string description, HttpMethod method, string url, long bytes, string contentType = "application/json") =>
        new(description, method, url, () => WithType(new RepeatedContent(bytes), contentType));

    static HttpContent Bytes(byte[] body, string contentType) => WithType(new ByteArrayContent(body), contentType);

    static HttpContent WithType(HttpContent content, string contentType)
    {
        // Hostile types (empty, malformed) must reach the server as written, so they bypass the client's validation.
        content.Headers.Remove("Content-Type");
        if (contentType.Length > 0) content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    public override string ToString() => $"{Method} {(Url.Length > 120 ? Url[..120] + "…" : Url)} [{Description}]";
}

/// <summary>A body of any length that is never held in memory: the same block of 'a's written until the length is reached.</summary>
public sealed class RepeatedContent(long length) : HttpContent
{
    static readonly byte[] Block = Enumerable.Repeat((byte)'a', 64 * 1024).ToArray();

    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
    {
        for (var written = 0L; written < length; written += Block.Length)
            await stream.WriteAsync(Block.AsMemory(0, (int)Math.Min(Block.Length, length - written)));
    }

    protected override bool TryComputeLength(out long computed)
    {
        computed = length;
        return true;
    }
}

/// <summary>What came back, with the problem detail when the answer is an error.</summary>
public sealed record Answer(Attack Attack, int Status, string? MediaType, string Body)
{
    public JsonNode? Json
    {
        get
        {
            try { return JsonNode.Parse(Body); }
            catch (System.Text.Json.JsonException) { return null; }
        }
    }

    /// <summary>Why this answer is not an acceptable answer to a hostile request, or null when it is.</summary>
    public string? Violation()
    {
        if (Status >= 500) return $"{Attack} answered {Status}: {Truncate(Body)}";
        if (Status < 400) return null;
        if (MediaType != "application/problem+json") return $"{Attack} answered {Status} as '{MediaType}', not a problem detail: {Truncate(Body)}";
        var problem = Json;
        if (problem?["status"]?.GetValue<int>() != Status || string.IsNullOrWhiteSpace((string?)problem["title"]))
            return $"{Attack} answered {Status} with a problem detail lacking status or title: {Truncate(Body)}";
        return null;
    }

    static string Truncate(string text) => text.Length > 400 ? text[..400] + "…" : text;
}

/// <summary>Sends attacks and keeps the statistics the summary prints.</summary>
public sealed class Attacker(HttpClient client)
{
    readonly ConcurrentDictionary<int, int> histogram = new();
    int sent;

    public int Sent => sent;
    public IReadOnlyDictionary<int, int> Histogram => histogram;

    public async Task<Answer> SendAsync(Attack attack)
    {
        using var request = new HttpRequestMessage(attack.Method, attack.Url) { Content = attack.Content?.Invoke() };
        using var response = await client.SendAsync(request);
        Interlocked.Increment(ref sent);
        histogram.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
        return new Answer(attack, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType,
            await response.Content.ReadAsStringAsync());
    }

    /// <summary>Sends every attack, a few at a time, and returns the answers in order.</summary>
    public async Task<IReadOnlyList<Answer>> SendAllAsync(IReadOnlyList<Attack> attacks, int parallelism = 4)
    {
        var answers = new Answer[attacks.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, attacks.Count), new ParallelOptions { MaxDegreeOfParallelism = parallelism },
            async (i, _) => answers[i] = await SendAsync(attacks[i]));
        return answers;
    }

    public string Summary(string service)
    {
        var statuses = string.Join(", ", histogram.OrderBy(h => h.Key).Select(h => $"{h.Key}×{h.Value}"));
        var serverErrors = histogram.Where(h => h.Key >= 500).Sum(h => h.Value);
        return $"{service}: {sent} hostile requests sent; statuses {statuses}; 5xx = {serverErrors}";
    }
}
