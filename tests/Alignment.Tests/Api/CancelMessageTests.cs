using System.Net;
using System.Runtime.CompilerServices;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Alignment.Tests.Api;

[Collection(AlignmentAppCollection.Name)]
public sealed class The_cancel_the_api_sends(AlignmentAppFixture app)
{
    [Fact]
    public async Task Names_the_runs_workspace()
    {
        var metric = app.Metrics.Add();
        var evaluation = app.Annotations.AddEvaluation(metric.Id);
        app.Annotations.Rows[metric.Id] = Stalled;
        var (_, body) = await app.StartAsync(new { metricId = metric.Id, evaluationIds = new[] { evaluation.EvaluationId } });
        var runId = Guid.Parse((string)body["id"]!);
        var sent = new TaskCompletionSource<CancelAlignmentRun>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = app.Factory.Services.GetRequiredService<IBus>();
        var listener = bus.ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), DefaultEndpointNameFormatter.Instance, endpoint =>
            endpoint.Handler<CancelAlignmentRun>(context =>
            {
                if (context.Message.RunId == runId) sent.TrySetResult(context.Message);
                return Task.CompletedTask;
            }));
        await listener.Ready;
        try
        {
            var response = await app.Client.PostAsync($"/api/alignment-runs/{runId}/cancel", null);

            response.StatusCode.Should().Be(HttpStatusCode.Accepted);
            (await sent.Task.WaitAsync(TimeSpan.FromSeconds(30))).Workspace.Should().Be(TestTokens.Workspace);
        }
        finally
        {
            await listener.StopAsync();
        }
    }

    static async IAsyncEnumerable<ResolvedRow> Stalled([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        yield break;
    }
}
