using MassTransit;
using MetricAlignment.Alignment.Analysis;
using MetricAlignment.Alignment.Api;
using MetricAlignment.Alignment.Clients;
using MetricAlignment.Alignment.Reflection;
using MetricAlignment.Alignment.Persistence;
using MetricAlignment.Alignment.Persistence.Outbox;
using MetricAlignment.Alignment.StateMachines.AlignmentRun;
using MetricAlignment.Alignment.Worker;
using MetricAlignment.Contracts;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.Extensions;

public static class AlignmentServiceExtensions
{
    public const string DatabaseName = "alignmentdb";

    public static IHostApplicationBuilder AddAlignmentService(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase(DatabaseName, typeof(AlignmentServiceExtensions).Assembly);
        builder.Services.Configure<WorkerOptions>(builder.Configuration.GetSection(WorkerOptions.Section));

        // Aspire service discovery resolves these names to the Metrics and Annotations services. Their calls carry the
        // caller's token (or this service's own, in the worker); the LLM providers' clients never get one.
        builder.Services.AddHttpClient<IMetricsClient, MetricsClient>(http => http.BaseAddress = new Uri("http://metrics"))
            .AddPlatformServiceAuthentication();
        builder.Services.AddHttpClient<IAnnotationsClient, AnnotationsClient>(http => http.BaseAddress = new Uri("http://annotations"))
            .AddPlatformServiceAuthentication();

        // The built-in distiller plus one LLM engine per provider under Alignment:Providers (fails at start when misconfigured).
        builder.Services.AddReflectionProviders(builder.Configuration);
        builder.Services.AddSingleton<RunCancellations>();
        builder.Services.AddSingleton<IRunStatusReader, DatabaseRunStatusReader>();
        builder.Services.AddHostedService<StalledRunSweeper>();
        builder.Services.AddExceptionHandler<DependencyFailureHandler>();
        builder.Services.AddSingleton<StartAdmission>();
        builder.Services.AddPublishObserver<RunOutcomeMetrics>();

        // Unique per process, so that each instance has its own cancellation queue (fan-out).
        var instanceId = $"{Environment.MachineName}-{Guid.NewGuid():N}"[..Math.Min(48, Environment.MachineName.Length + 33)].ToLowerInvariant();
        builder.AddMessageBus(bus =>
        {
            bus.AddSagaStateMachine<AlignmentRunStateMachine, AlignmentRunState, AlignmentRunStateDefinition>().PostgresRepository();
            bus.AddConsumer<ExecuteAlignmentRunConsumer, ExecuteAlignmentRunConsumerDefinition>();
            bus.AddConsumer<AlignmentRunCancellationListener>().Endpoint(endpoint =>
            {
                endpoint.Temporary = true;
                endpoint.InstanceId = instanceId;
            });
            bus.AddRequestClient<StartAlignmentRun>(RequestTimeout.After(s: 30));
        });
        // The saga's messages are written with the run's row and published by the outbox dispatcher, so a crash between
        // the commit and the publish does not lose them (Migrations/0004_outbox.sql holds the tables).
        builder.AddAlignmentRunOutbox();
        return builder;
    }

    public static WebApplication MapAlignmentApi(this WebApplication app)
    {
        app.MapAlignmentRunEndpoints();
        app.MapAlignmentProviderEndpoints();
        return app;
    }
}
