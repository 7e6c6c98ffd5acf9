using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Alignment.Extensions;

public static class AlignmentServiceExtensions
{
    public const string DatabaseName = "alignmentdb";

    public static IHostApplicationBuilder AddAlignmentService(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase(DatabaseName, typeof(AlignmentServiceExtensions).Assembly);
        builder.AddMessageBus();
        return builder;
    }

    public static WebApplication MapAlignmentApi(this WebApplication app)
    {
        return app;
    }
}
