using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace MetricAlignment.Security.Tests;

/// <summary>What a test (or the whole suite) sent and how it was answered: the figures of the summary line.</summary>
public sealed class Tally
{
    readonly ConcurrentDictionary<int, int> statuses = new();
    int sent;

    public int Sent => sent;
    public int Count(int status) => statuses.GetValueOrDefault(status);
    public int ServerErrors => statuses.Where(s => s.Key >= 500).Sum(s => s.Value);

    public void Record(int status)
    {
        Interlocked.Increment(ref sent);
        statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
    }

    public string Summary(string what)
    {
        var others = string.Join(", ", statuses.Where(s => s.Key is not (401 or 403 or 404) && s.Key < 500).OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"));
        return $"{what}: requests sent {Sent}, 401s {Count(401)}, 403s {Count(403)}, 404s {Count(404)}, other {(others.Length == 0 ? "none" : others)}, 5xx = {ServerErrors}";
    }
}

/// <summary>Counts every response of a client into each of its tallies.</summary>
public sealed class CountingHandler(params Tally[] tallies) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        foreach (var tally in tallies) tally.Record((int)response.StatusCode);
        return response;
    }
}

/// <summary>One request of the suite; the body is built per send so that a request can be replayed.</summary>
public sealed record ApiRequest(string Service, HttpMethod Method, string Url, string? Body = null, string ContentType = "application/json")
{
    public static ApiRequest Get(string service, string url) => new(service, HttpMethod.Get, url);

    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(Method, Url);
        if (Body is not null) message.Content = new StringContent(Body, Encoding.UTF8, new MediaTypeHeaderValue(ContentType));
        return message;
    }

    public override string ToString() => $"{Service} {Method} {(Url.Length > 140 ? Url[..140] + "…" : Url)}";
}

/// <summary>What came back for a request.</summary>
public sealed record Answer(ApiRequest Request, int Status, string? MediaType, string Body, string? Challenge)
{
    public JsonNode? Json
    {
        get
        {
            try { return JsonNode.Parse(Body); }
            catch (System.Text.Json.JsonException) { return null; }
        }
    }

    public static async Task<Answer> SendAsync(HttpClient client, ApiRequest request)
    {
        using var message = request.ToMessage();
        using var response = await client.SendAsync(message);
        return new Answer(request, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType,
            await response.Content.ReadAsStringAsync(), response.Headers.WwwAuthenticate.FirstOrDefault()?.Scheme);
    }

    /// <summary>Why this is not a problem detail with one of the statuses, or null when it is.</summary>
    public string? Unless(params int[] statuses)
    {
        if (!statuses.Contains(Status)) return $"{Request} answered {Status}, expected {string.Join(" or ", statuses)}: {Truncate(Body)}";
        if (Status < 400) return null;
        if (MediaType != "application/problem+json") return $"{Request} answered {Status} as '{MediaType}', not a problem detail: {Truncate(Body)}";
        if (Json?["status"]?.GetValue<int>() != Status || string.IsNullOrWhiteSpace((string?)Json?["title"]))
            return $"{Request} answered {Status} with a problem detail lacking status or title: {Truncate(Body)}";
        return null;
    }

    static string Truncate(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
