using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MetricAlignment.TestSupport;

/// <summary>Test-service registrations that replace what a service under test would call.</summary>
public static class TestServiceCollectionExtensions
{
    /// <summary>Every registration of <typeparamref name="TService"/> gives way to <paramref name="instance"/>.</summary>
    public static IServiceCollection ReplaceAll<TService>(this IServiceCollection services, TService instance) where TService : class
    {
        services.RemoveAll<TService>();
        return services.AddSingleton(instance);
    }

    /// <summary>The typed client's requests go to the in-process service: only the transport is faked, its handlers still run.</summary>
    public static IHttpClientBuilder CallingInProcess<TProgram>(this IHttpClientBuilder client, InProcessService<TProgram> service) where TProgram : class =>
        client.ConfigurePrimaryHttpMessageHandler(() => service.Factory.Server.CreateHandler());
}
