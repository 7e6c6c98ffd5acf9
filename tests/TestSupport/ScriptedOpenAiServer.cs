using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetricAlignment.TestSupport;

/// <summary>A chat completions request as the server received it.</summary>
public sealed record ChatRequest(int Index, JsonObject Json, IReadOnlyDictionary<string, string> Headers)
{
    readonly TaskCompletionSource aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The caller's TCP port, which identifies the process that sent the request.</summary>
    public int RemotePort { get; init; }
    /// <summary>Completes when the caller gave up on the request (cancelled it, or died) before it was answered.</summary>
    public Task Aborted => aborted.Task;
    public bool WasAborted => aborted.Task.IsCompleted;
    public bool WasAnswered { get; private set; }

    internal void MarkAborted() => aborted.TrySetResult();
    internal void MarkAnswered() => WasAnswered = true;

    public string Model => Json["model"]?.GetValue<string>() ?? "";
    public string SchemaName => Json["response_format"]?["json_schema"]?["name"]?.GetValue<string>() ?? "";
    public string SystemPrompt => Message("system");
    public string UserPrompt => Message("user");

    string Message(string role) =>
        Json["messages"]!.AsArray().Where(m => m!["role"]!.GetValue<string>() == role)
            .Select(m => m!["content"] is JsonValue v ? v.GetValue<string>() : string.Concat(m!["content"]!.AsArray().Select(p => p!["text"]?.GetValue<string>())))
            .FirstOrDefault() ?? "";
}

public sealed record ScriptedResponse(int Status, string Body, IReadOnlyDictionary<string, string>? Headers = null, TimeSpan Delay = default)
{
    /// <summary>A chat completion whose message content is <paramref name="content"/>, with realistic usage.</summary>
    public static ScriptedResponse Completion(string content, int promptTokens = 900, int completionTokens = 120, string model = "gpt-4o-mini") =>
        new(200, new JsonObject
        {
            ["id"] = "chatcmpl-" + Guid.NewGuid().ToString("N")[..12],
            ["object"] = "chat.completion",
            ["created"] = 1_735_689_600,
            ["model"] = model,
            ["system_fingerprint"] = "fp_scripted",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content, ["refusal"] = null },
                ["logprobs"] = null,
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject
            {
                ["prompt_tokens"] = promptTokens,
                ["completion_tokens"] = completionTokens,
                ["total_tokens"] = promptTokens + completionTokens,
            },
        }.ToJsonString());

    public static ScriptedResponse Json(JsonNode content, int promptTokens = 900, int completionTokens = 120) =>
        Completion(content.ToJsonString(), promptTokens, completionTokens);

    public static ScriptedResponse Error(int status, string message, string? retryAfter = null) =>
        new(status, new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = status == 429 ? "rate_limit_exceeded" : "server_error", ["param"] = null, ["code"] = null },
        }.ToJsonString(), retryAfter is null ? null : new Dictionary<string, string> { ["Retry-After"] = retryAfter });
}

/// <summary>
/// An OpenAI-compatible chat completions endpoint on 127.0.0.1, scripted per test: each request goes to the handler,
/// which sees every request so far and answers with a status, body, headers and an optional delay.
/// </summary>
public sealed class ScriptedOpenAiServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly ConcurrentQueue<ChatRequest> requests = new();
    readonly Channel<ChatRequest> received = Channel.CreateUnbounded<ChatRequest>();
    int count;

    ScriptedOpenAiServer(WebApplication app) => this.app = app;

    public Uri Endpoint { get; private set; } = null!;
    public IReadOnlyList<ChatRequest> Requests => requests.ToList();

    public static async Task<ScriptedOpenAiServer> StartAsync(Func<ChatRequest, ScriptedResponse> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new ScriptedOpenAiServer(app);
        app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            var json = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))!;
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            var request = new ChatRequest(Interlocked.Increment(ref server.count), json, headers) { RemotePort = context.Connection.RemotePort };
            server.requests.Enqueue(request);
            server.received.Writer.TryWrite(request);
            var response = handler(request);
            try
            {
                if (response.Delay > TimeSpan.Zero) await Task.Delay(response.Delay, context.RequestAborted);
                context.Response.StatusCode = response.Status;
                context.Response.ContentType = "application/json";
                foreach (var (name, value) in response.Headers ?? new Dictionary<string, string>()) context.Response.Headers[name] = value;
                await context.Response.WriteAsync(response.Body, context.RequestAborted);
                request.MarkAnswered();
            }
            // A write to a connection the caller dropped fails with an I/O error rather than a cancellation.
            catch (Exception) when (context.RequestAborted.IsCancellationRequested)
            {
                request.MarkAborted();
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Endpoint = new Uri(address.TrimEnd('/') + "/v1/");
        return server;
    }

    /// <summary>The next request the server receives that matches, waiting at most <paramref name="timeout"/>.</summary>
    public async Task<ChatRequest> NextRequestAsync(Func<ChatRequest, bool> match, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var request = await received.Reader.ReadAsync(deadline.Token);
                if (match(request)) return request;
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"No matching chat completions request arrived within {timeout}.");
        }
    }

    /// <summary>Forgets requests received so far, so that <see cref="NextRequestAsync"/> only sees later ones.</summary>
    public void SkipReceived()
    {
        while (received.Reader.TryRead(out _)) { }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
