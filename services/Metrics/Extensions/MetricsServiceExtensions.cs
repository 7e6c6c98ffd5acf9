using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Metrics.Extensions;

public static class MetricsServiceExtensions
{
    public const string DatabaseName = "metricsdb";

    public static IHostApplicationBuilder AddMetricsService(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase(DatabaseName, typeof(MetricsServiceExtensions).Assembly);
        builder.AddMessageBus();
        return builder;
    }

    public static WebApplication MapMetricsApi(this WebApplication app)
    {
        return app;
    }
}
