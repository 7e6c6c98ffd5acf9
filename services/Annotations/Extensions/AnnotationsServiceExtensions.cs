using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Annotations.Extensions;

public static class AnnotationsServiceExtensions
{
    public const string DatabaseName = "annotationsdb";

    public static IHostApplicationBuilder AddAnnotationsService(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase(DatabaseName, typeof(AnnotationsServiceExtensions).Assembly);
        builder.AddMessageBus();
        return builder;
    }

    public static WebApplication MapAnnotationsApi(this WebApplication app)
    {
        return app;
    }
}
