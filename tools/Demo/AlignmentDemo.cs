using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetricAlignment.Tools;
using RabbitMQ.Client;

namespace MetricAlignment.Demo;

/// <summary>
/// The run command's demo on the imported dataset: a fluency alignment run from Start to Accept through the public
/// APIs, watched the way a user or another service would see it, with the MetricForked event read straight from
/// its RabbitMQ exchange (as a non-.NET consumer would). Starting and accepting a run needs the Edit policy: run it
/// with a metric-editor or admin token (--token / MA_TOKEN, or --user and --password against the token endpoint).
/// </summary>
public static class AlignmentDemo
{
    const string MetricForkedExchange = "MetricAlignment.Contracts:MetricForked";
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static async Task<int> Main(string[] args)
    {
        string Arg(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var metricsUrl = Arg("--metrics-url", "http://127.0.0.1:5101");
        var alignmentUrl = Arg("--alignment-url", "http://127.0.0.1:5103");
        var broker = Arg("--broker", Environment.GetEnvironmentVariable("ConnectionStrings__messaging") ?? "amqp://alignment:alignment-dev-pw@127.0.0.1:35672/alignment");
        var metricKey = Arg("--metric", "fluency");
        var threshold = double.Parse(Arg("--delta-threshold", "1"), System.Globalization.CultureInfo.InvariantCulture);
        var auth = AccessTokenOptions.From(args);
        if (auth.Problem() is { } problem)
        {
            Console.Error.WriteLine($"[demo] {problem}");
            return 2;
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await RunAsync(new Uri(metricsUrl), new Uri(alignmentUrl), new Uri(broker), auth, metricKey, threshold, timeout.Token);
            return 0;
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or OperationCanceledException)
        {
            Console.Error.WriteLine($"[demo] failed: {e.Message}");
            return 1;
        }
    }

    static async Task RunAsync(Uri metricsUrl, Uri alignmentUrl, Uri broker, AccessTokenOptions auth, string metricKey, double threshold,
        CancellationToken ct)
    {
        using var metrics = new HttpClient { BaseAddress = metricsUrl };
        using var alignment = new HttpClient { BaseAddress = alignmentUrl };
        var token = await auth.AuthorizeAsync(ct, metrics, alignment);
        var workspace = AccessTokenOptions.Claim(token, "workspace");
        Say($"acting as {AccessTokenOptions.Claim(token, "sub") ?? "the given token"} ({AccessTokenOptions.Claim(token, "role") ?? "no role"}) in workspace {workspace ?? "(unknown)"}");

        var metric = (await metrics.GetFromJsonAsync<JsonObject>($"api/metrics/{metricKey}", ct))!;
        var metricId = metric["id"]!.GetValue<Guid>();
        Say($"metric '{metric["name"]}' ({metric["kind"]}, version {metric["currentVersion"]})");

        var eligible = (await alignment.GetFromJsonAsync<JsonArray>($"api/metrics/{metricId}/eligible-evaluations", ct))!;
        if (eligible.Count == 0) throw new InvalidOperationException($"no evaluation has resolved annotations for '{metricKey}'");
        Say($"{eligible.Count} eligible evaluations, {eligible.Sum(e => e!["resolvedRowCount"]!.GetValue<int>())} resolved rows");

        // Listen before accepting, so the event cannot be missed.
        var factory = new ConnectionFactory { Uri = broker };
        await using var connection = await factory.CreateConnectionAsync("alignment-demo", ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await channel.ExchangeDeclareAsync(MetricForkedExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        var queue = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: ct)).QueueName;
        await channel.QueueBindAsync(queue, MetricForkedExchange, "", cancellationToken: ct);

        using var started = await alignment.PostAsJsonAsync("api/alignment-runs", new
        {
            metricId,
            evaluationIds = eligible.Select(e => e!["evaluationId"]!.GetValue<Guid>()).ToArray(),
            reflectionProvider = "",
            deltaThreshold = threshold,
        }, ct);
        await EnsureSuccess(started, "start", ct);
        var run = (await started.Content.ReadFromJsonAsync<JsonObject>(ct))!;
        var runId = run["id"]!.GetValue<Guid>();
        Say($"run {runId} started: {(int)started.StatusCode} {started.Headers.Location}");
        string? lastShown = run["status"]!.GetValue<string>();
        Say($"status: {lastShown}");
        while (true)
        {
            run = (await alignment.GetFromJsonAsync<JsonObject>($"api/alignment-runs/{runId}", ct))!;
            var status = run["status"]!.GetValue<string>();
            var phase = run["phase"] is JsonValue value ? value.GetValue<string>() : null;
            var shown = phase is null || status != "running" ? status : $"{status} ({phase})";
            if (shown != lastShown) Say($"status: {shown}");
            lastShown = shown;
            if (status is "aligned" or "error" or "cancelled") break;
            await Task.Delay(200, ct);
        }
        if (run["status"]!.GetValue<string>() != "aligned")
            throw new InvalidOperationException($"the run ended {run["status"]}: {run["error"]?.ToJsonString()}");

        foreach (var phase in run["phases"]!.AsArray())
        {
            var startedAt = phase!["startedAt"]!.GetValue<DateTimeOffset>();
            var endedAt = phase["endedAt"]?.GetValue<DateTimeOffset>();
            Say($"  phase {phase["phase"],-30} {startedAt:HH:mm:ss.fff} -> {endedAt:HH:mm:ss.fff} ({(endedAt - startedAt)?.TotalMilliseconds:0} ms)");
        }
        var counts = run["counts"]!;
        Say($"aligned: {counts["disagreements"]} disagreements, {counts["agreeingRowsSkipped"]} agreeing rows skipped, {counts["rowsLoaded"]} rows loaded");
        Console.WriteLine();
        Console.WriteLine(run["guidelinesText"]?.GetValue<string>());
        Console.WriteLine();

        using var accepted = await alignment.PostAsJsonAsync($"api/alignment-runs/{runId}/accept", new { overrideNewerVersion = false }, ct);
        await EnsureSuccess(accepted, "accept", ct);
        Say($"accept: {accepted.StatusCode}");

        while (true)
        {
            run = (await alignment.GetFromJsonAsync<JsonObject>($"api/alignment-runs/{runId}", ct))!;
            if (run["outcome"] is JsonObject outcome && outcome["metricId"] is not null) { Say($"outcome: {outcome.ToJsonString()}"); break; }
            if (run["acceptRejection"] is JsonObject rejection) throw new InvalidOperationException($"accept refused: {rejection.ToJsonString()}");
            await Task.Delay(200, ct);
        }

        var forked = await ReceiveAsync(channel, queue, runId, ct);
        var forkedWorkspace = forked["workspace"]?.GetValue<string>();
        Say($"MetricForked received from exchange '{MetricForkedExchange}' for workspace '{forkedWorkspace ?? "(none)"}':");
        if (workspace is not null && forkedWorkspace != workspace)
            throw new InvalidOperationException($"MetricForked names workspace '{forkedWorkspace}', the run was started in '{workspace}'");
        Console.WriteLine(forked.ToJsonString(Json));

        var newMetricId = forked["newMetricId"]?.GetValue<Guid>() ?? run["outcome"]!["metricId"]!.GetValue<Guid>();
        var fork = (await metrics.GetFromJsonAsync<JsonObject>($"api/metrics/{newMetricId}", ct))!;
        Say($"the Metrics service has the fork: '{fork["name"]}' ({fork["key"]}, {fork["kind"]}), forked from {fork["forkedFrom"]?.ToJsonString()}");
    }

    static async Task<JsonObject> ReceiveAsync(IChannel channel, string queue, Guid runId, CancellationToken ct)
    {
        while (true)
        {
            var delivery = await channel.BasicGetAsync(queue, autoAck: true, ct);
            if (delivery is not null)
            {
                var envelope = JsonNode.Parse(Encoding.UTF8.GetString(delivery.Body.Span))!.AsObject();
                var message = envelope["message"]!.AsObject();
                if (message["runId"]?.GetValue<Guid>() == runId) return message;
                continue;
            }
            await Task.Delay(100, ct);
        }
    }

    static async Task EnsureSuccess(HttpResponseMessage response, string what, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
    }

    static void Say(string text) => Console.WriteLine($"[demo] {DateTime.Now:HH:mm:ss.fff} {text}");
}
