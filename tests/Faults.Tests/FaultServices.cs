extern alias alignment;
extern alias metrics;

using alignment::MetricAlignment.Alignment.Clients;
using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
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

    readonly InProcessServices services = new();
    IBusControl? eventCounterBus;

    public PrivateInfrastructure Infrastructure { get; private set; } = null!;
    public HttpClient Metrics { get; private set; } = null!;
    public HttpClient Alignment { get; private set; } = null!;
    public SlowAnnotations Annotations { get; } = new();
    public PublishedEvents Events { get; } = new();

    public async Task InitializeAsync()
    {
        Infrastructure = await PrivateInfrastructure.StartAsync();
        var infrastructure = Infrastructure;

        var metricsService = services.Start<MetricsProgram>("metricsdb", infrastructure.Database("metricsdb"), infrastructure.Messaging);
        Metrics = await services.ClientAsync(metricsService, Roles.Admin, TimeSpan.FromSeconds(30));

        var alignmentService = services.Start<AlignmentProgram>("alignmentdb", infrastructure.Database("alignmentdb"), infrastructure.Messaging,
            InProcessServices.AlignmentWorker(concurrentRuns: 8, heartbeatInterval: TimeSpan.FromSeconds(2)),
            // The worker's look-ups carry a service token, as the real client's do.
            testServices => testServices
                .ReplaceAll<IMetricsClient>(new MetricsClient(metricsService.Factory.CreateClient().AsService(TestTokens.Workspace)))
                .ReplaceAll<IAnnotationsClient>(Annotations));
        Alignment = await services.ClientAsync(alignmentService, Roles.Admin, TimeSpan.FromSeconds(45));

        var (user, password) = infrastructure.MessagingCredentials;
        eventCounterBus = await CountingBus.StartAsync(infrastructure.MessagingHost, user, password, "faults-published-metric-changes", endpoint =>
        {
            endpoint.Handler<MetricForked>(context => Events.Record(context, context.Message.RunId));
            endpoint.Handler<MetricVersioned>(context => Events.Record(context, context.Message.RunId));
        });
    }

    public async Task DisposeAsync()
    {
        try
        {
            await CountingBus.StopAsync(eventCounterBus);
            await services.DisposeAsync();
        }
        finally
        {
            if (Infrastructure is not null) await Infrastructure.DownAsync();
        }
    }

    /// <summary>Eligible evaluations per metric, and a resolved-row stream that takes <see cref="RowDelay"/> per row.</summary>
    public sealed class SlowAnnotations() : ScriptedAnnotations<EligibleEvaluation>(EightRows), IAnnotationsClient
    {
        /// <summary>Eight rows, four of them with the judge two points above the humans.</summary>
        static readonly ScriptedRows EightRows = new()
        {
            Scores = [(5.0, 3.0), (4.0, 4.0), (5.0, 2.0), (3.0, 3.0), (4.0, 2.0), (2.0, 2.0), (3.0, 1.0), (1.0, 1.0)],
            MetricKey = "faithfulness", Input = "Summarise the article.", Output = "A summary.",
            JudgeExplanation = "Looks faithful.", ReviewerComment = "Invents a date.",
            RowDelay = FaultServices.RowDelay, RefusesOtherWorkspaces = true,
        };

        public EligibleEvaluation AddEvaluation(Guid metricId) => AddEligible(metricId, new EligibleEvaluation
        {
            EvaluationId = Guid.NewGuid(), Name = "fault evaluation", Status = "completed", CreatedAt = DateTimeOffset.UtcNow,
            RowCount = 8, ResolvedRowCount = 8,
        });
    }
}

[CollectionDefinition(Name)]
public sealed class FaultServicesCollection : ICollectionFixture<FaultServices>
{
    public const string Name = "fault services";
}
