using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using Microsoft.IdentityModel.Tokens;

namespace MetricAlignment.Security.Tests;

/// <summary>
/// Credentials an attacker could present, each an admin of <c>default</c> on its face: the services must not
/// authenticate any of them (401).
/// </summary>
public static class ForgedTokens
{
    static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>The Authorization header value of each forgery, by name.</summary>
    public static readonly IReadOnlyDictionary<string, Func<string>> Headers = new Dictionary<string, Func<string>>
    {
        ["expired"] = () => Bearer(TestTokens.For([Roles.Admin], TestTokens.Workspace, "mallory", TimeSpan.FromMinutes(5), DateTime.UtcNow.AddHours(-2))),
        ["not yet valid"] = () => Bearer(TestTokens.For([Roles.Admin], TestTokens.Workspace, "mallory", Hour, DateTime.UtcNow.AddHours(2))),
        ["signed with another key"] = () => Bearer(AccessTokens.Create(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), TestTokens.Issuer,
            AccessTokens.DefaultAudience, "mallory", [Roles.Admin], TestTokens.Workspace, Hour)),
        ["another issuer"] = () => Bearer(AccessTokens.Create(TestTokens.SigningKey, "https://issuer.evil.example", AccessTokens.DefaultAudience,
            "mallory", [Roles.Admin], TestTokens.Workspace, Hour)),
        ["another audience"] = () => Bearer(AccessTokens.Create(TestTokens.SigningKey, TestTokens.Issuer, "another-api", "mallory",
            [Roles.Admin], TestTokens.Workspace, Hour)),
        ["unsigned (alg none)"] = () => Bearer(Unsigned()),
        ["viewer token edited to admin"] = () => Bearer(ViewerEditedToAdmin()),
        ["not a JWT"] = () => Bearer("not-a-jwt"),
        ["basic credentials"] = () => "Basic " + Convert.ToBase64String("admin:metric-alignment"u8.ToArray()),
    };

    public static IEnumerable<string> Names => Headers.Keys;

    static string Bearer(string token) => $"Bearer {token}";

    /// <summary>Every claim a valid admin token has, the right issuer and audience, and no signature at all.</summary>
    static string Unsigned()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["alg"] = "none", ["typ"] = "JWT" };
        var payload = new JsonObject
        {
            ["sub"] = "mallory", ["role"] = new JsonArray(Roles.Admin), ["workspace"] = TestTokens.Workspace,
            ["iss"] = TestTokens.Issuer, ["aud"] = AccessTokens.DefaultAudience, ["iat"] = now, ["nbf"] = now, ["exp"] = now + 3600,
        };
        return $"{Base64UrlEncoder.Encode(header.ToJsonString())}.{Base64UrlEncoder.Encode(payload.ToJsonString())}.";
    }

    /// <summary>A genuine viewer token whose payload says admin, with the viewer's signature kept.</summary>
    static string ViewerEditedToAdmin()
    {
        var parts = TestTokens.For(Roles.Viewer).Split('.');
        var payload = JsonNode.Parse(Base64UrlEncoder.Decode(parts[1]))!.AsObject();
        payload["role"] = Roles.Admin;
        return $"{parts[0]}.{Base64UrlEncoder.Encode(payload.ToJsonString())}.{parts[2]}";
    }
}
