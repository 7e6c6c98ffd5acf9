using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// How long a service may take to stop after SIGTERM. The host's "shutdownTimeoutSeconds" setting (environment
/// DOTNET_SHUTDOWNTIMEOUTSECONDS, or Host:ShutdownTimeoutSeconds) sets it; 45 s by default (the Kubernetes manifests set
/// 40 s so that the preStop pause plus the shutdown fit the pod's 60 s grace period). The bus stops inside it (see AddMessageBus).
/// </summary>
public static class ShutdownExtensions
{
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(45);

    public static TBuilder AddGracefulShutdown<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var timeout = ShutdownTimeout(builder.Configuration);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = timeout);
        return builder;
    }

    public static TimeSpan ShutdownTimeout(IConfiguration configuration)
    {
        // The generic host reads "shutdownTimeoutSeconds" from its DOTNET_-prefixed environment variables; honour it here too.
        var seconds = configuration.GetValue<double?>("shutdownTimeoutSeconds") ?? configuration.GetValue<double?>("Host:ShutdownTimeoutSeconds");
        return seconds is > 0 ? TimeSpan.FromSeconds(seconds.Value) : DefaultShutdownTimeout;
    }

    /// <summary>
    /// The bus's share of the grace period: the whole bus stop takes at most <paramref name="maxStop"/> and ends a few
    /// seconds before the host's timeout (so the process still drains requests, flushes telemetry and exits in time);
    /// consumers get two thirds of it to finish their message before their CancellationToken fires.
    /// </summary>
    public static (TimeSpan ConsumerStop, TimeSpan Stop) BusStopTimeouts(TimeSpan shutdown, TimeSpan maxStop)
    {
        var margin = TimeSpan.FromSeconds(Math.Min(5, shutdown.TotalSeconds / 5));
        var stop = shutdown - margin < maxStop ? shutdown - margin : maxStop;
        var consumerStop = TimeSpan.FromTicks(stop.Ticks * 2 / 3);
        return (consumerStop, stop);
    }
}
