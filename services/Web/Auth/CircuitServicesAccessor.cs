using Microsoft.AspNetCore.Components.Server.Circuits;

namespace MetricAlignment.Web.Auth;

/// <summary>
/// The interactive circuit's services, for code that runs in another DI scope: IHttpClientFactory builds message handlers
/// in a scope of its own, so a handler cannot take the circuit's scoped services as dependencies (ASP.NET Core docs,
/// "Access server-side Blazor services from a different DI scope").
/// </summary>
public sealed class CircuitServicesAccessor
{
    static readonly AsyncLocal<IServiceProvider?> Current = new();

    public IServiceProvider? Services
    {
        get => Current.Value;
        set => Current.Value = value;
    }
}

/// <summary>Sets <see cref="CircuitServicesAccessor.Services"/> for every activity the browser starts in the circuit.</summary>
public sealed class ServicesAccessorCircuitHandler(IServiceProvider services, CircuitServicesAccessor accessor) : CircuitHandler
{
    public override Func<CircuitInboundActivityContext, Task> CreateInboundActivityHandler(Func<CircuitInboundActivityContext, Task> next) =>
        async context =>
        {
            accessor.Services = services;
            await next(context);
            accessor.Services = null;
        };
}
