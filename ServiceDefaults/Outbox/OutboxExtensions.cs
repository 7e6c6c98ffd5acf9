using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.ServiceDefaults;

public static class OutboxExtensions
{
    /// <summary>
    /// Runs the <see cref="OutboxDispatcher"/> that publishes what <see cref="TransactionalOutbox.EnqueueAsync"/> committed,
    /// and cleans up the outbox and the <see cref="Inbox"/>. Call it after <c>AddServiceDatabase</c> and <c>AddMessageBus</c>:
    /// hosted services start in registration order, so the dispatcher then starts on a migrated schema and a started bus.
    /// Options come from the "Outbox" configuration section, then <paramref name="configure"/>.
    /// </summary>
    public static TBuilder AddTransactionalOutbox<TBuilder>(this TBuilder builder, Action<OutboxOptions>? configure = null)
        where TBuilder : IHostApplicationBuilder
    {
        if (!builder.Services.Any(d => d.ServiceType == typeof(SchemaMigrator)))
            throw new InvalidOperationException("Call AddServiceDatabase before AddTransactionalOutbox: the outbox lives in the service's database.");
        if (!builder.Services.Any(d => d.ServiceType == typeof(IBus)))
            throw new InvalidOperationException("Call AddMessageBus before AddTransactionalOutbox: the outbox publishes on the service's bus.");

        var options = builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.SectionName);
        if (configure is not null) options.Configure(configure);
        builder.Services.AddHostedService<OutboxDispatcher>();
        return builder;
    }
}
