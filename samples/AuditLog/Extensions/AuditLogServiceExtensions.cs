using MassTransit;
using MetricAlignment.AuditLog.Audit;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.AuditLog.Extensions;

public static class AuditLogServiceExtensions
{
    public static IHostApplicationBuilder AddAuditLog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AuditTrail>();
        // One consumer class, so this service has exactly one queue ("audit-log") bound to the three exchanges.
        builder.AddMessageBus(bus => bus.AddConsumer<AuditLogConsumer, AuditLogConsumerDefinition>());
        return builder;
    }

    public static WebApplication MapAuditLogApi(this WebApplication app)
    {
        app.MapAuditEndpoints();
        return app;
    }
}
