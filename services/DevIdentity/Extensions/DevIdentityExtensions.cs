using System.Security.Cryptography;
using System.Text;
using MetricAlignment.ServiceDefaults;
using Microsoft.AspNetCore.Mvc;

namespace MetricAlignment.DevIdentity.Extensions;

public sealed class DevUser
{
    public string[] Roles { get; init; } = [];
    public string Workspace { get; init; } = "default";
}

public sealed class DevClient
{
    public string Secret { get; init; } = "";
}

public sealed class DevIdentityOptions
{
    public string Password { get; init; } = "";
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);
    public Dictionary<string, DevUser> Users { get; init; } = [];
    public Dictionary<string, DevClient> Clients { get; init; } = [];
}

/// <summary>
/// The development issuer: an OAuth 2.0 token endpoint (password grant for the configured people, client credentials
/// for the platform's services) signing with the development key the services trust. It stands in for the real
/// identity provider a deployment configures through Auth:Authority, and refuses to run in Production.
/// </summary>
public static class DevIdentityExtensions
{
    public const string TokenPath = "/connect/token";

    public static IHostApplicationBuilder AddDevIdentity(this IHostApplicationBuilder builder)
    {
        if (builder.Environment.IsProduction())
            throw new InvalidOperationException("The development issuer does not run in Production; configure a real issuer (Auth:Authority).");
        builder.Services.AddProblemDetails();
        builder.Services.AddOptions<DevIdentityOptions>().Bind(builder.Configuration.GetSection("DevIdentity"));
        return builder;
    }

    public static WebApplication MapDevIdentity(this WebApplication app)
    {
        app.MapPost(TokenPath, IssueToken).DisableAntiforgery();
        // The sign-in page lists who can sign in; passwords stay out of it.
        app.MapGet("/users", (Microsoft.Extensions.Options.IOptions<DevIdentityOptions> options) =>
            options.Value.Users.Select(u => new { name = u.Key, roles = u.Value.Roles, workspace = u.Value.Workspace }).OrderBy(u => u.name));
        return app;
    }

    static async Task<IResult> IssueToken(HttpRequest request, Microsoft.Extensions.Options.IOptions<DevIdentityOptions> options,
        IConfiguration configuration, ILoggerFactory loggers)
    {
        if (!request.HasFormContentType)
            return Error("invalid_request", "Send application/x-www-form-urlencoded, as OAuth 2.0 requires.");
        var form = await request.ReadFormAsync();
        var auth = configuration.GetSection(AuthExtensions.Section);
        var settings = options.Value;
        var log = loggers.CreateLogger("DevIdentity");
        string Issue(string subject, IEnumerable<string> roles, string? workspace) => AccessTokens.Create(
            auth["SigningKey"] ?? throw new InvalidOperationException("Auth:SigningKey is not configured."),
            auth["Issuer"] ?? "metric-alignment-dev", auth["Audience"] ?? AccessTokens.DefaultAudience,
            subject, roles, workspace, settings.TokenLifetime);
        var lifetime = (int)settings.TokenLifetime.TotalSeconds;

        switch (form["grant_type"].ToString())
        {
            case "password":
                var name = form["username"].ToString();
                if (!settings.Users.TryGetValue(name, out var user) || !SecretEquals(form["password"].ToString(), settings.Password))
                {
                    log.LogInformation("Refused a sign-in for {User}", name);
                    return Error("invalid_grant", "Unknown user or wrong password.");
                }
                return Results.Ok(new TokenResponse(Issue(name, user.Roles, user.Workspace), "Bearer", lifetime));
            case "client_credentials":
                var clientId = form["client_id"].ToString();
                if (!settings.Clients.TryGetValue(clientId, out var client) || !SecretEquals(form["client_secret"].ToString(), client.Secret))
                {
                    log.LogInformation("Refused client credentials for {Client}", clientId);
                    return Error("invalid_client", "Unknown client or wrong secret.", StatusCodes.Status401Unauthorized);
                }
                return Results.Ok(new TokenResponse(Issue($"service:{clientId}", [Roles.Service], null), "Bearer", lifetime));
            default:
                return Error("unsupported_grant_type", "Use grant_type=password or grant_type=client_credentials.");
        }
    }

    static bool SecretEquals(string given, string expected) =>
        expected.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));

    /// <summary>RFC 6749 §5.2 error body.</summary>
    static IResult Error(string error, string description, int status = StatusCodes.Status400BadRequest) =>
        Results.Json(new { error, error_description = description }, statusCode: status);

    sealed record TokenResponse(
        [property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string AccessToken,
        [property: System.Text.Json.Serialization.JsonPropertyName("token_type")] string TokenType,
        [property: System.Text.Json.Serialization.JsonPropertyName("expires_in")] int ExpiresIn);
}
