using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// Signs access tokens with a symmetric key: the development issuer, a service without a token endpoint, and the tests
/// use it. Production validates tokens from a real issuer (Auth:Authority) and never needs this.
/// </summary>
public static class AccessTokens
{
    public const string DefaultAudience = "metric-alignment";
    public const int MinimumKeyBytes = 32;

    public static SymmetricSecurityKey KeyFrom(string signingKey)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(signingKey);
        }
        catch (FormatException)
        {
            bytes = Encoding.UTF8.GetBytes(signingKey);
        }
        if (bytes.Length < MinimumKeyBytes)
            throw new InvalidOperationException($"Auth:SigningKey must hold at least {MinimumKeyBytes} bytes (256 bits).");
        return new SymmetricSecurityKey(bytes);
    }

    public static string Create(string signingKey, string issuer, string audience, string subject,
        IEnumerable<string> roles, string? workspace, TimeSpan lifetime, DateTime? now = null)
    {
        var issuedAt = now ?? DateTime.UtcNow;
        var claims = new List<Claim> { new(Caller.SubjectClaim, subject) };
        claims.AddRange(roles.Select(role => new Claim(Caller.RoleClaim, role)));
        if (workspace is not null) claims.Add(new Claim(Caller.WorkspaceClaim, workspace));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + lifetime,
            SigningCredentials = new SigningCredentials(KeyFrom(signingKey), SecurityAlgorithms.HmacSha256),
        });
    }
}
