using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// This service's own access token (role <c>service</c>), for calls made outside a caller's request. With
/// Auth:TokenEndpoint it is obtained by the client-credentials grant (Auth:ClientId, Auth:ClientSecret) and reused until
/// a minute before it expires; with only the development Auth:SigningKey it is signed here.
/// </summary>
public sealed class ServiceTokenSource(IConfiguration configuration, IHostEnvironment environment, IHttpClientFactory httpClients)
{
    static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(15);
    readonly SemaphoreSlim _gate = new(1, 1);
    (string Token, DateTimeOffset RenewAt)? _current;

    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        if (_current is { } cached && cached.RenewAt > DateTimeOffset.UtcNow) return cached.Token;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_current is { } again && again.RenewAt > DateTimeOffset.UtcNow) return again.Token;
            var fresh = await AcquireAsync(cancellationToken);
            _current = fresh;
            return fresh.Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    async Task<(string Token, DateTimeOffset RenewAt)> AcquireAsync(CancellationToken cancellationToken)
    {
        var auth = configuration.GetSection(AuthExtensions.Section);
        var endpoint = auth["TokenEndpoint"];
        if (!string.IsNullOrWhiteSpace(endpoint))
        {
            using var http = httpClients.CreateClient(nameof(ServiceTokenSource));
            using var response = await http.PostAsync(endpoint, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = auth["ClientId"] ?? environment.ApplicationName,
                ["client_secret"] = auth["ClientSecret"] ?? "",
                ["scope"] = auth["Audience"] ?? AccessTokens.DefaultAudience,
            }), cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"The token endpoint refused this service's client credentials ({(int)response.StatusCode}).", null, response.StatusCode);
            var token = await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken)
                ?? throw new HttpRequestException("The token endpoint answered without a token.");
            var lifetime = TimeSpan.FromSeconds(Math.Max(token.ExpiresIn, 60));
            return (token.AccessToken, DateTimeOffset.UtcNow + lifetime - TimeSpan.FromSeconds(Math.Min(60, lifetime.TotalSeconds / 2)));
        }
        var signingKey = auth["SigningKey"];
        if (string.IsNullOrWhiteSpace(signingKey))
            throw new InvalidOperationException("Neither Auth:TokenEndpoint nor Auth:SigningKey is configured: this service cannot authenticate its calls.");
        var signed = AccessTokens.Create(signingKey, auth["Issuer"] ?? auth["Authority"] ?? "", auth["Audience"] ?? AccessTokens.DefaultAudience,
            $"service:{environment.ApplicationName}", [Roles.Service], null, Lifetime);
        return (signed, DateTimeOffset.UtcNow + Lifetime - TimeSpan.FromMinutes(1));
    }

    sealed record TokenResponse(
        [property: JsonPropertyName("access_token")] string AccessToken,
        [property: JsonPropertyName("expires_in")] int ExpiresIn);
}

/// <summary>Adds the bearer token to a call to another platform service (see AddPlatformServiceAuthentication).</summary>
public sealed class ServiceTokenHandler(IHttpContextAccessor httpContext, ServiceTokenSource serviceTokens) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Headers.Authorization is null)
        {
            var incoming = httpContext.HttpContext?.Request.Headers.Authorization.ToString();
            request.Headers.Authorization = !string.IsNullOrEmpty(incoming) && incoming.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                ? AuthenticationHeaderValue.Parse(incoming)
                : new AuthenticationHeaderValue("Bearer", await serviceTokens.GetAsync(cancellationToken));
        }
        return await base.SendAsync(request, cancellationToken);
    }
}
