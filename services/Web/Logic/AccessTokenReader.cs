using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;

namespace MetricAlignment.Web.Logic;

/// <summary>What the front end needs to know about a person from their access token.</summary>
public sealed record TokenFacts(string Subject, string Name, string Workspace, IReadOnlyList<string> Roles, DateTimeOffset ExpiresAt);

/// <summary>
/// Reads an access token's payload. The signature is not checked here: the front end only forwards the token, and the
/// APIs that act on it validate it. Lifetime is checked, so that an expired token never becomes a session.
/// </summary>
public static class AccessTokenReader
{
    public const string SubjectClaim = "sub";
    public const string RoleClaim = "role";
    public const string WorkspaceClaim = "workspace";

    /// <summary>The facts, or null with the reason the token cannot start a session.</summary>
    public static TokenFacts? Read(string? accessToken, DateTimeOffset now, out string? reason)
    {
        reason = null;
        JsonWebToken token;
        try
        {
            token = new JsonWebToken(accessToken ?? "");
        }
        catch (ArgumentException)
        {
            reason = "The issuer answered with something that is not a JSON web token.";
            return null;
        }
        var claims = token.Claims.ToList();
        var subject = First(claims, SubjectClaim);
        if (subject is null)
        {
            reason = "The token names no subject.";
            return null;
        }
        if (!token.TryGetPayloadValue<long>("exp", out var expiresAtSeconds))
        {
            reason = "The token has no expiry.";
            return null;
        }
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(expiresAtSeconds);
        if (expiresAt <= now)
        {
            reason = "The token has already expired.";
            return null;
        }
        var workspace = First(claims, WorkspaceClaim);
        if (string.IsNullOrWhiteSpace(workspace))
        {
            reason = "The token names no workspace.";
            return null;
        }
        // Issuers write roles as "role" or "roles", as one string or an array (each element its own claim).
        var roles = claims.Where(c => c.Type is RoleClaim or "roles").Select(c => c.Value)
            .Where(r => !string.IsNullOrWhiteSpace(r)).Distinct(StringComparer.Ordinal).ToList();
        var name = First(claims, "preferred_username") ?? First(claims, "name") ?? subject;
        return new TokenFacts(subject, name, workspace, roles, expiresAt);
    }

    static string? First(IEnumerable<Claim> claims, string type) =>
        claims.FirstOrDefault(c => c.Type == type && !string.IsNullOrWhiteSpace(c.Value))?.Value;
}
