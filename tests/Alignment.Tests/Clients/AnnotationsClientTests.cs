using System.Text;
using System.Text.Json;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;

namespace MetricAlignment.Alignment.Tests.Clients;

public sealed class AnnotationsClientTests
{
    static readonly Guid MetricId = Guid.Parse("5d1b6c1e-0f4e-4c3b-9a57-2a0d6c2f4b10");

    static ResolvedRow Row(int n) => new()
    {
        RowId = Guid.Parse($"00000000-0000-4000-8000-{n:D12}"),
        EvaluationId = Guid.Parse("11111111-2222-4333-8444-555555555555"),
        ExternalId = $"doc-{n}",
        Input = new RowInput { Messages = [new ConversationMessage { Role = "user", Content = $"Question {n} — ünïcode" }] },
        Output = $"Answer {n}",
        Tags = new Dictionary<string, string> { ["split"] = "test" },
        MetricId = MetricId,
        MetricKey = "fluency",
        JudgeScore = 4,
        ResolvedScore = 2.5,
        ResolutionMethod = "median",
        Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = 2.5, Comment = "too long", AnnotatedAt = DateTimeOffset.UnixEpoch }],
    };

    /// <summary>A loopback Annotations stand-in, and the client wired as the service wires it (standard resilience handler included).</summary>
    static async Task<(WebApplication Server, ServiceProvider Services)> StartAsync(Func<HttpResponse, Task> writeRows,
        Action<HttpStandardResilienceOptions>? resilience = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var server = builder.Build();
        server.MapGet("/api/metrics/{metricId:guid}/resolved-rows", (HttpContext context) => writeRows(context.Response));
        await server.StartAsync();
        var address = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var services = new ServiceCollection();
        services.AddLogging();
        services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler());
        if (resilience is not null) services.ConfigureAll(resilience);
        services.AddHttpClient<IAnnotationsClient, AnnotationsClient>(http => http.BaseAddress = new Uri(address.TrimEnd('/') + "/"));
        return (server, services.BuildServiceProvider());
    }

    static async Task<List<ResolvedRow>> ReadAllAsync(ServiceProvider services)
    {
        var rows = new List<ResolvedRow>();
        await foreach (var row in services.GetRequiredService<IAnnotationsClient>().StreamResolvedRowsAsync(TestTokens.Workspace, MetricId, [Guid.NewGuid()], CancellationToken.None))
            rows.Add(row);
        return rows;
    }

    [Fact]
    public async Task Rows_split_across_reads_blank_lines_and_a_last_line_without_newline_are_all_read()
    {
        var lines = Enumerable.Range(1, 50).Select(n => JsonSerializer.Serialize(Row(n), JsonSerializerOptions.Web)).ToList();
        var body = Encoding.UTF8.GetBytes(string.Join("\n", lines.Take(25)) + "\n\r\n\n" + string.Join("\r\n", lines.Skip(25)));
        var (server, services) = await StartAsync(async response =>
        {
            response.ContentType = "application/x-ndjson";
            // Odd-sized writes cut lines, and multi-byte characters, between reads.
            for (var offset = 0; offset < body.Length; offset += 777)
            {
                await response.Body.WriteAsync(body.AsMemory(offset, Math.Min(777, body.Length - offset)));
                await response.Body.FlushAsync();
            }
        });
        await using var _ = server;
        using var __ = services;

        var rows = await ReadAllAsync(services);

        rows.Should().HaveCount(50);
        rows.Select(r => r.ExternalId).Should().Equal(Enumerable.Range(1, 50).Select(n => $"doc-{n}"));
        rows[49].Should().BeEquivalentTo(Row(50));
    }

    [Fact]
    public async Task A_stream_longer_than_the_resilience_handlers_timeouts_is_read_to_the_end()
    {
        // The service keeps the standard handler's defaults (10 s per attempt, 30 s total); scaled down here to stay fast.
        var (server, services) = await StartAsync(async response =>
        {
            response.ContentType = "application/x-ndjson";
            for (var n = 1; n <= 8; n++)
            {
                await response.WriteAsync(JsonSerializer.Serialize(Row(n), JsonSerializerOptions.Web) + "\n");
                await response.Body.FlushAsync();
                await Task.Delay(250);
            }
        }, options =>
        {
            options.AttemptTimeout.Timeout = TimeSpan.FromMilliseconds(400);
            options.TotalRequestTimeout.Timeout = TimeSpan.FromMilliseconds(800);
        });
        await using var _ = server;
        using var __ = services;

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var rows = await ReadAllAsync(services);

        watch.Elapsed.Should().BeGreaterThan(TimeSpan.FromMilliseconds(1500), "the stream really outlasted the total timeout");
        rows.Should().HaveCount(8);
    }

    [Fact]
    public async Task A_line_that_is_not_a_row_fails_naming_its_line_number()
    {
        var (server, services) = await StartAsync(async response =>
        {
            response.ContentType = "application/x-ndjson";
            await response.WriteAsync(JsonSerializer.Serialize(Row(1), JsonSerializerOptions.Web) + "\n{\"rowId\": oops}\n");
        });
        await using var _ = server;
        using var __ = services;

        var act = () => ReadAllAsync(services);

        (await act.Should().ThrowAsync<DependencyFailedException>()).Which.Message.Should().StartWith($"Line 2 of the resolved rows of metric {MetricId} is not a valid row");
    }
}
