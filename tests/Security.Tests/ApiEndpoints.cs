using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace MetricAlignment.Security.Tests;

/// <summary>One route and method of a service's API, as its routing knows it.</summary>
public sealed record ApiEndpoint(string Service, string Method, RoutePattern Pattern, bool AllowsAnonymous, string ContentType)
{
    /// <summary>The route without constraints or trailing slash, e.g. <c>/api/metrics/{idOrKey}/versions/{version}</c>.</summary>
    public string Route { get; } = "/" + string.Join('/', Pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
    {
        RoutePatternLiteralPart literal => literal.Content,
        RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
        RoutePatternSeparatorPart separator => separator.Content,
        _ => "?",
    }))));

    /// <summary>Service, method and route: how the tables of this suite name an endpoint.</summary>
    public string Key => $"{Service} {Method} {Route}";

    public bool IsWrite => Method is not ("GET" or "HEAD");

    public IReadOnlyList<string> Parameters => Pattern.Parameters.Select(p => p.Name).ToList();

    /// <summary>The URL with each route parameter replaced by <paramref name="value"/>'s choice for it.</summary>
    public string Url(Func<RoutePatternParameterPart, string> value) =>
        "/" + string.Join('/', Pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => Uri.EscapeDataString(value(parameter)),
            RoutePatternSeparatorPart separator => separator.Content,
            _ => "",
        }))));

    /// <summary>A URL whose parameters name nothing that exists, shaped to pass the route's constraints.</summary>
    public string UrlOfNothing() => Url(parameter => parameter.ParameterPolicies.Any(p => p.Content == "int") ? "1" : Guid.NewGuid().ToString());

    public override string ToString() => Key;
}

public static class ApiEndpoints
{
    /// <summary>Routes anonymous on purpose: probes of the orchestrator and the API documentation.</summary>
    static readonly string[] AnonymousRoutePrefixes = ["/health", "/alive", "/openapi", "/scalar"];

    public static bool IsAnonymousOnPurpose(ApiEndpoint endpoint) =>
        AnonymousRoutePrefixes.Any(prefix => endpoint.Route.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every endpoint the service's routing knows, one per method, read from its EndpointDataSource.</summary>
    public static IReadOnlyList<ApiEndpoint> AllOf(ServiceUnderTest service) =>
        service.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => new ApiEndpoint(service.Name, method, endpoint.RoutePattern, endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null,
                    // A body of another type is refused with 415 by routing, before authorization: attacks send what the endpoint takes.
                    endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes.FirstOrDefault() ?? "application/json")))
            .DistinctBy(e => e.Key)
            .OrderBy(e => e.Route, StringComparer.Ordinal).ThenBy(e => e.Method, StringComparer.Ordinal)
            .ToList();

    /// <summary>The endpoints of the API: everything but the health probes and the documentation.</summary>
    public static IReadOnlyList<ApiEndpoint> SecuredOf(ServiceUnderTest service)
    {
        var secured = AllOf(service).Where(e => !IsAnonymousOnPurpose(e)).ToList();
        if (secured.Count == 0) throw new InvalidOperationException($"{service.Name}'s routing lists no API endpoint: the enumeration is broken.");
        return secured;
    }
}
