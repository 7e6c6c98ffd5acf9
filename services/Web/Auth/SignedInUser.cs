using System.Globalization;
using System.Security.Claims;
using MetricAlignment.ServiceDefaults;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Auth;

/// <summary>
/// The person behind the session cookie: who they are, their workspace and roles as their access token says, and the
/// token itself, which every call to an API carries.
/// </summary>
public sealed record SignedInUser(string Subject, string Name, string Workspace, IReadOnlyList<string> Roles, string AccessToken,
    DateTimeOffset ExpiresAt)
{
    public const string AuthenticationType = "metric-alignment-token";
    const string NameClaim = "name";
    const string AccessTokenClaim = "access_token";
    const string ExpiresAtClaim = "access_token_expires_at";

    /// <summary>The APIs' own rule (an admin may do anything), so a button shows exactly when the service would accept it.</summary>
    public bool Can(string policy) => new Caller(Workspace, Subject, Roles.ToHashSet(StringComparer.Ordinal)).Can(policy);

    public bool IsExpired(DateTimeOffset now) => ExpiresAt <= now;

    public static SignedInUser From(TokenFacts facts, string accessToken) =>
        new(facts.Subject, facts.Name, facts.Workspace, facts.Roles, accessToken, facts.ExpiresAt);

    public ClaimsPrincipal ToPrincipal()
    {
        var claims = new List<Claim>
        {
            new(AccessTokenReader.SubjectClaim, Subject),
            new(NameClaim, Name),
            new(AccessTokenReader.WorkspaceClaim, Workspace),
            new(AccessTokenClaim, AccessToken),
            new(ExpiresAtClaim, ExpiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        };
        claims.AddRange(Roles.Select(role => new Claim(AccessTokenReader.RoleClaim, role)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, AuthenticationType, NameClaim, AccessTokenReader.RoleClaim));
    }

    /// <summary>The user a session cookie holds, or null for an anonymous or malformed principal.</summary>
    public static SignedInUser? From(ClaimsPrincipal? principal)
    {
        if (principal?.Identity?.IsAuthenticated != true) return null;
        var subject = principal.FindFirstValue(AccessTokenReader.SubjectClaim);
        var workspace = principal.FindFirstValue(AccessTokenReader.WorkspaceClaim);
        var token = principal.FindFirstValue(AccessTokenClaim);
        if (subject is null || workspace is null || token is null
            || !long.TryParse(principal.FindFirstValue(ExpiresAtClaim), NumberStyles.Integer, CultureInfo.InvariantCulture, out var expiresAt))
            return null;
        return new SignedInUser(subject, principal.FindFirstValue(NameClaim) ?? subject, workspace,
            principal.FindAll(AccessTokenReader.RoleClaim).Select(c => c.Value).ToList(), token, DateTimeOffset.FromUnixTimeSeconds(expiresAt));
    }
}
