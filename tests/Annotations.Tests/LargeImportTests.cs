using System.Diagnostics;
using System.Net;
using System.Text;
using MetricAlignment.TestSupport;
using Xunit.Abstractions;

namespace MetricAlignment.Annotations.Tests;

public sealed class LargeImportTests(AnnotationsApiFactory api, ITestOutputHelper output) : IClassFixture<AnnotationsApiFactory>
{
    const int RowCount = 100_000;

    /// <summary>Writes the body as the server reads it, so neither side ever holds the whole import.</summary>
    sealed class GeneratedImport(int rows) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            await writer.WriteLineAsync("""{"name":"generated 100k","status":"completed","metrics":[{"metric":"fluency","resolution":"median"},{"metric":"tone","resolution":"majority"}]}""");
            for (var i = 0; i < rows; i++)
            {
                var judge = 1 + i % 5;
                await writer.WriteLineAsync(
                    "{\"externalId\":\"gen-" + i + "\",\"input\":[{\"role\":\"system\",\"content\":\"You summarise news.\"},"
                    + "{\"role\":\"user\",\"content\":\"Article number " + i + " about the weather in a small town.\"}],"
                    + "\"output\":\"A short summary of article " + i + ".\",\"tags\":{\"system\":\"generator\",\"shard\":\"" + i % 16 + "\"},"
                    + "\"judge\":{\"fluency\":{\"score\":" + judge + ",\"explanation\":\"Reads well.\",\"model\":\"gpt-4\"}},"
                    + "\"annotations\":[{\"metric\":\"fluency\",\"reviewerId\":\"r1\",\"score\":" + judge + "},"
                    + "{\"metric\":\"fluency\",\"reviewerId\":\"r2\",\"score\":" + (1 + (i + 1) % 5) + "},"
                    + "{\"metric\":\"fluency\",\"reviewerId\":\"r3\",\"score\":3},"
                    + "{\"metric\":\"tone\",\"reviewerId\":\"r1\",\"label\":\"formal\"}]}");
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task A_100000_row_import_completes()
    {
        var client = api.CreateClient().As();
        client.Timeout = TimeSpan.FromMinutes(5);
        using var content = new GeneratedImport(RowCount);
        content.Headers.ContentType = new("application/x-ndjson");

        var stopwatch = Stopwatch.StartNew();
        var response = await client.PostAsync("/api/evaluations/import", content);
        stopwatch.Stop();

        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var result = await AnnotationsApiFactory.ReadAsync<Api.ImportResponse>(response);
        result.Rows.Should().Be(RowCount);
        result.Annotations.Should().Be(RowCount * 4);
        result.Resolved.Should().Be(RowCount * 2);
        (await api.CountAsync("rows")).Should().Be(RowCount);
        (await api.CountAsync("annotations")).Should().Be(RowCount * 4);
        output.WriteLine($"Imported {RowCount:N0} rows ({result.Annotations:N0} annotations) in {stopwatch.Elapsed.TotalSeconds:F1} s");
    }
}
