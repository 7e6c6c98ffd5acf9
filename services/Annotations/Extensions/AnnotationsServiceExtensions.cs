using MetricAlignment.Annotations.Api;
using MetricAlignment.Annotations.Evaluations;
using MetricAlignment.Annotations.Import;
using MetricAlignment.Annotations.Metrics;
using MetricAlignment.Annotations.Rows;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Annotations.Extensions;

public static class AnnotationsServiceExtensions
{
    public const string DatabaseName = "annotationsdb";

    /// <summary>Where the Metrics service is; Aspire service discovery resolves the name.</summary>
    public const string MetricsServiceUrl = "http://metrics";

    public static IHostApplicationBuilder AddAnnotationsService(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase(DatabaseName, typeof(AnnotationsServiceExtensions).Assembly);
        builder.AddMessageBus();

        builder.Services.AddMemoryCache();
        builder.Services.AddHttpClient<IMetricCatalog, HttpMetricCatalog>(http =>
            http.BaseAddress = new Uri(builder.Configuration["Annotations:MetricsServiceUrl"] ?? MetricsServiceUrl))
            .AddPlatformServiceAuthentication();
        builder.Services.AddExceptionHandler<MetricCatalogUnavailableHandler>();

        builder.Services.AddOptions<ImportOptions>().BindConfiguration(ImportOptions.Section);
        builder.Services.AddSingleton<EvaluationImporter>();
        builder.Services.AddSingleton<EvaluationStore>();
        builder.Services.AddSingleton<AnnotationStore>();
        builder.Services.AddSingleton<ResolvedRowStream>();
        return builder;
    }

    public static WebApplication MapAnnotationsApi(this WebApplication app)
    {
        app.MapEvaluationEndpoints();
        app.MapRowEndpoints();
        app.MapMetricQueryEndpoints();
        return app;
    }
}
