using MassTransit;
using MetricAlignment.Metrics.Api;
using MetricAlignment.Metrics.Catalogue;
using MetricAlignment.Metrics.Consumers;
using MetricAlignment.Metrics.Data;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Metrics.Extensions;

public static class MetricsServiceExtensions
{
    public const string DatabaseName = "metricsdb";

    public static IHostApplicationBuilder AddMetricsService(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase(DatabaseName, typeof(MetricsServiceExtensions).Assembly);
        builder.Services.AddSingleton<MetricStore>();
        builder.Services.AddSingleton<MetricChanges>();
        builder.Services.AddSingleton<CatalogueSeeder>();
        // After the migrations and before the bus: a consumer never sees a catalogue without its built-ins.
        builder.Services.AddHostedService<CatalogueSeedingService>();
        builder.AddMessageBus(bus =>
        {
            bus.AddConsumer<CreateMetricForkConsumer, CreateMetricForkConsumerDefinition>();
            bus.AddConsumer<CreateMetricVersionConsumer, CreateMetricVersionConsumerDefinition>();
        });
        return builder;
    }

    public static WebApplication MapMetricsApi(this WebApplication app)
    {
        app.MapMetricEndpoints();
        return app;
    }
}
