extern alias alignment;
extern alias metrics;

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using alignment::MetricAlignment.Alignment.Clients;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using AlignmentProgram = alignment::Program;
using MetricsProgram = metrics::Program;

namespace MetricAlignment.Faults.Tests;

/// <summary>
/// The Metrics and Alignment services in process on the private PostgreSQL and RabbitMQ, Alignment calling the real
/// Metrics service over (in-process) HTTP. Annotations is a fake whose row stream is slow on purpose, so that runs are
/// still executing when a fault is injected. A separate bus counts every MetricForked and MetricVersioned published.
/// </summary>
public sealed class FaultServices : IAsyncLifetime
{
    /// <summary>How long the fake Annotations service takes per resolved row; eight rows make a run last a few seconds.</summary>
    public static readonly TimeSpan RowDelay = TimeSpan.FromMilliseconds(400);

    WebApplicationFactory<MetricsProgram> metricsService = null!;
    WebApplicationFactory<AlignmentProgram> alignmentService = null!;
    IBusControl eventCounterBus = null!;

    public PrivateInfrastructure Infrastructure { get; private set; } = null!;
    public HttpClient Metrics { get; private set; } = null!;
    public HttpClient Alignment { get; private set; } = null!;
    public SlowAnnotations Annotations { get; } = new();
    public PublishedEvents Events { get; } = new();

    public async Task InitializeAsync()
    {
        Infrastructure = await PrivateInfrastructure.StartAsync();
        var infrastructure = Infrastructure;

        metricsService = new WebApplicationFactory<MetricsProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:metricsdb", infrastructure.Database("metricsdb"));
            web.UseSetting("ConnectionStrings:messaging", infrastructure.Messaging);
        });
        Metrics = metricsService.CreateClient().As(Roles.Admin);
        Metrics.Timeout = TimeSpan.FromSeconds(30);
        (await Metrics.GetAsync("/health")).EnsureSuccessStatusCode();

        alignmentService = new WebApplicationFactory<AlignmentProgram>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:alignmentdb", infrastructure.Database("alignmentdb"));
            web.UseSetting("ConnectionStrings:messaging", infrastructure.Messaging);
            web.UseSetting("Alignment:Worker:ConcurrentRuns", "8");
            web.UseSetting("Alignment:Worker:HeartbeatInterval", "00:00:02");
            web.ConfigureTestServices(services =>
            {
                services.RemoveAll<IMetricsClient>();
                services.RemoveAll<IAnnotationsClient>();
                // The worker's look-ups carry a service token, as the real client's do.
                services.AddSingleton<IMetricsClient>(new MetricsClient(metricsService.CreateClient().AsService(TestTokens.Workspace)));
                services.AddSingleton<IAnnotationsClient>(Annotations);
            });
        });
        Alignment = alignmentService.CreateClient().As(Roles.Admin);
        Alignment.Timeout = TimeSpan.FromSeconds(45);
        (await Alignment.GetAsync("/health")).EnsureSuccessStatusCode();

        // A durable queue of its own: what is published while this bus reconnects waits there and is counted later.
        var (user, password) = infrastructure.MessagingCredentials;
        eventCounterBus = Bus.Factory.CreateUsingRabbitMq(bus =>
        {
            bus.Host(infrastructure.MessagingHost, host =>
            {
                host.Username(user);
                host.Password(password);
            });
            bus.ReceiveEndpoint("faults-published-metric-changes", endpoint =>
            {
                endpoint.Handler<MetricForked>(context => Events.Record(context.Message.RunId, context.MessageId));
                endpoint.Handler<MetricVersioned>(context => Events.Record(context.Message.RunId, context.MessageId));
            });
        });
        using var started = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await eventCounterBus.StartAsync(started.Token);
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (eventCounterBus is not null) await eventCounterBus.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
            Alignment?.Dispose();
            Metrics?.Dispose();
            if (alignmentService is not null) await alignmentService.DisposeAsync();
            if (metricsService is not null) await metricsService.DisposeAsync();
        }
        finally
        {
            if (Infrastructure is not null) await Infrastructure.DownAsync();
        }
    }

    /// <summary>
    /// What a consumer bound to the events' exchanges received, per run. Deliveries and distinct message ids are kept
    /// apart: a message redelivered to this consumer because its acknowledgement was cut by the broker stopping is
    /// one publish delivered twice (at-least-once delivery), while two message ids are two publishes.
    /// </summary>
    public sealed class PublishedEvents
    {
        readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Guid, int>> byRun = new();

        public Task Record(Guid runId, Guid? messageId)
        {
            byRun.GetOrAdd(runId, _ => new()).AddOrUpdate(messageId ?? Guid.NewGuid(), 1, (_, count) => count + 1);
            return Task.CompletedTask;
        }

        /// <summary>Distinct messages published for the run.</summary>
        public int Count(Guid runId) => byRun.TryGetValue(runId, out var messages) ? messages.Count : 0;
        public int Deliveries(Guid runId) => byRun.TryGetValue(runId, out var messages) ? messages.Values.Sum() : 0;
        public int Total => byRun.Values.Sum(m => m.Count);
        public int TotalDeliveries => byRun.Values.Sum(m => m.Values.Sum());
    }

    /// <summary>Eligible evaluations per metric, and a resolved-row stream that takes <see cref="RowDelay"/> per row.</summary>
    public sealed class SlowAnnotations : IAnnotationsClient
    {
        readonly ConcurrentDictionary<Guid, ConcurrentBag<EligibleEvaluation>> eligible = new();

        public EligibleEvaluation AddEvaluation(Guid metricId)
        {
            var evaluation = new EligibleEvaluation
            {
                EvaluationId = Guid.NewGuid(), Name = "fault evaluation", Status = "completed", CreatedAt = DateTimeOffset.UtcNow,
                RowCount = 8, ResolvedRowCount = 8,
            };
            eligible.GetOrAdd(metricId, _ => []).Add(evaluation);
            return evaluation;
        }

        public Task<IReadOnlyList<EligibleEvaluation>> GetEligibleEvaluationsAsync(string workspace, Guid metricId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<EligibleEvaluation>>(workspace == TestTokens.Workspace && eligible.TryGetValue(metricId, out var list) ? [.. list] : []);

        /// <summary>Eight rows, four of them with the judge two points above the humans.</summary>
        public async IAsyncEnumerable<ResolvedRow> StreamResolvedRowsAsync(string workspace, Guid metricId, IReadOnlyList<Guid> evaluationIds,
            [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (workspace != TestTokens.Workspace) throw new InvalidOperationException($"Rows were asked for in workspace '{workspace}', not the run's.");
            foreach (var (judge, human) in new[] { (5.0, 3.0), (4.0, 4.0), (5.0, 2.0), (3.0, 3.0), (4.0, 2.0), (2.0, 2.0), (3.0, 1.0), (1.0, 1.0) })
            {
                await Task.Delay(RowDelay, cancellationToken);
                yield return new ResolvedRow
                {
                    RowId = Guid.NewGuid(), EvaluationId = evaluationIds[0], Input = new RowInput { Text = "Summarise the article." },
                    Output = "A summary.", MetricId = metricId, MetricKey = "faithfulness", JudgeScore = judge, ResolvedScore = human,
                    JudgeExplanation = "Looks faithful.", ResolutionMethod = "single_reviewer",
                    Reviewers = [new ReviewerAnnotation { ReviewerId = "r1", Score = human, Comment = "Invents a date.", AnnotatedAt = DateTimeOffset.UtcNow }],
                };
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class FaultServicesCollection : ICollectionFixture<FaultServices>
{
    public const string Name = "fault services";
}
