using System.Net;
using System.Net.Http.Headers;

namespace MetricAlignment.Web.Auth;

/// <summary>
/// Puts the signed-in person's access token on every call to the Metrics, Annotations and Alignment APIs. An expired or
/// missing session is answered 401 here, without a call, which the pages turn into a trip to the sign-in page.
/// </summary>
public sealed class AccessTokenHandler(CircuitServicesAccessor circuit, IHttpContextAccessor httpContext) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var user = await CurrentAsync();
        if (user is null || user.IsExpired(DateTimeOffset.UtcNow))
            return new HttpResponseMessage(HttpStatusCode.Unauthorized) { RequestMessage = request };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.AccessToken);
        return await base.SendAsync(request, cancellationToken);
    }

    async Task<SignedInUser?> CurrentAsync()
    {
        // In a circuit: the user its authentication state captured when it started (never the hub's HttpContext).
        if (circuit.Services?.GetService<CurrentUser>() is { } current) return await current.GetAsync();
        // Outside a circuit's activity this is a prerendering request, whose principal comes from the session cookie.
        return SignedInUser.From(httpContext.HttpContext?.User);
    }
}
