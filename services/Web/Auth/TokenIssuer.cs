using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Auth;

/// <summary>The outcome of a sign-in: the person, or a sentence saying why not.</summary>
public sealed record SignInOutcome(SignedInUser? User, string? Error);

/// <summary>A person the development issuer knows, listed on the sign-in page as a hint (never their password).</summary>
public sealed record DevelopmentUser(string Name, IReadOnlyList<string> Roles, string Workspace);

/// <summary>
/// Trades a person's name and password for an access token at the issuer's token endpoint (OAuth 2.0 password grant):
/// Auth:TokenEndpoint, or the development issuer that the AppHost names <c>identity</c>.
/// </summary>
public sealed class TokenIssuer(HttpClient http, IConfiguration configuration, ILogger<TokenIssuer> log)
{
    public const string DevelopmentTokenEndpoint = "http://identity/connect/token";
    const string TokenPath = "/connect/token";

    string TokenEndpoint => configuration[$"{AuthExtensions.Section}:TokenEndpoint"] is { Length: > 0 } configured ? configured : DevelopmentTokenEndpoint;

    public async Task<SignInOutcome> SignInAsync(string userName, string password, CancellationToken cancellationToken)
    {
        var auth = configuration.GetSection(AuthExtensions.Section);
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = userName,
            ["password"] = password,
            ["scope"] = auth["Audience"] ?? AccessTokens.DefaultAudience,
        };
        // A real identity provider knows the front end as a client; the development issuer ignores these.
        if (auth["ClientId"] is { Length: > 0 } clientId) form["client_id"] = clientId;
        if (auth["ClientSecret"] is { Length: > 0 } clientSecret) form["client_secret"] = clientSecret;

        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(TokenEndpoint, new FormUrlEncodedContent(form), cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException
                                      || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            log.LogWarning(e, "The token endpoint {Endpoint} could not be reached", TokenEndpoint);
            return new SignInOutcome(null, "The sign-in service could not be reached. Try again in a moment.");
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var error = Read<TokenError>(body);
                log.LogInformation("The token endpoint refused a sign-in for {User}: {Status} {Error}", userName, (int)response.StatusCode, error?.Error);
                return new SignInOutcome(null, error?.Error switch
                {
                    "invalid_grant" => "The user name or password is wrong.",
                    _ when (int)response.StatusCode >= 500 => "The sign-in service failed. Try again in a moment.",
                    _ => $"The sign-in service refused the sign-in{(error?.Description is { Length: > 0 } d ? $": {d}" : ".")}",
                });
            }
            var token = Read<TokenResponse>(body);
            if (token?.AccessToken is not { Length: > 0 } accessToken)
                return new SignInOutcome(null, "The sign-in service answered without an access token.");
            if (AccessTokenReader.Read(accessToken, DateTimeOffset.UtcNow, out var reason) is not { } facts)
            {
                log.LogWarning("The token endpoint issued a token the front end cannot use: {Reason}", reason);
                return new SignInOutcome(null, $"The sign-in service issued an unusable token. {reason}");
            }
            return new SignInOutcome(SignedInUser.From(facts, accessToken), null);
        }
    }

    /// <summary>The development issuer's people (GET /users beside its token endpoint); none when it cannot say.</summary>
    public async Task<IReadOnlyList<DevelopmentUser>> DevelopmentUsersAsync(CancellationToken cancellationToken)
    {
        var endpoint = TokenEndpoint;
        var users = endpoint.EndsWith(TokenPath, StringComparison.OrdinalIgnoreCase) ? endpoint[..^TokenPath.Length] + "/users" : "http://identity/users";
        try
        {
            using var response = await http.GetAsync(users, cancellationToken);
            if (!response.IsSuccessStatusCode) return [];
            return await response.Content.ReadFromJsonAsync<List<DevelopmentUser>>(cancellationToken) ?? [];
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or Polly.Timeout.TimeoutRejectedException
                                      or Polly.CircuitBreaker.BrokenCircuitException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            log.LogInformation(e, "The development issuer's users could not be listed");
            return [];
        }
    }

    static T? Read<T>(string body) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    sealed record TokenResponse([property: JsonPropertyName("access_token")] string? AccessToken);

    sealed record TokenError(
        [property: JsonPropertyName("error")] string? Error,
        [property: JsonPropertyName("error_description")] string? Description);
}
