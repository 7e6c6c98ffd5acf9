using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// JWT bearer authentication and the role policies every API uses (docs/security.md). Tokens are validated against
/// Auth:Issuer and Auth:Audience, with the keys of Auth:Authority's OpenID metadata (production) or the symmetric
/// Auth:SigningKey (the development issuer and the tests; refused in Production).
/// </summary>
public static class AuthExtensions
{
    public const string Section = "Auth";

    public static TBuilder AddPlatformAuthentication<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var auth = builder.Configuration.GetSection(Section);
        var issuer = auth["Issuer"];
        var authority = auth["Authority"];
        var signingKey = auth["SigningKey"];
        if (string.IsNullOrWhiteSpace(issuer) && string.IsNullOrWhiteSpace(authority))
            throw new InvalidOperationException("Auth:Issuer (or Auth:Authority) is not configured: the APIs cannot validate tokens.");
        if (!string.IsNullOrWhiteSpace(signingKey) && builder.Environment.IsProduction() && !auth.GetValue("AllowSigningKeyInProduction", false))
            throw new InvalidOperationException("Auth:SigningKey is for development and tests; in Production configure Auth:Authority.");

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            // Claim names stay as the issuer wrote them (sub, role, workspace).
            options.MapInboundClaims = false;
            if (!string.IsNullOrWhiteSpace(authority))
            {
                options.Authority = authority;
                options.RequireHttpsMetadata = auth.GetValue("RequireHttpsMetadata", true);
            }
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = string.IsNullOrWhiteSpace(issuer) ? authority : issuer,
                ValidAudience = auth["Audience"] ?? AccessTokens.DefaultAudience,
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                ClockSkew = TimeSpan.FromSeconds(30),
                NameClaimType = Caller.SubjectClaim,
                RoleClaimType = Caller.RoleClaim,
                IssuerSigningKey = string.IsNullOrWhiteSpace(signingKey) ? null : AccessTokens.KeyFrom(signingKey),
            };
        });

        builder.Services.AddAuthorization(options =>
        {
            foreach (var (policy, roles) in Policies.AllowedRoles)
            {
                options.AddPolicy(policy, p => p
                    .RequireAuthenticatedUser()
                    .AddRequirements(new WorkspaceRequirement())
                    .RequireRole(roles.Append(Roles.Admin).Distinct()));
            }
            // An endpoint that says nothing is readable by every role, never by an anonymous caller.
            options.FallbackPolicy = options.GetPolicy(Policies.Read);
        });
        builder.Services.AddSingleton<IAuthorizationHandler, WorkspaceRequirementHandler>();

        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<ServiceTokenSource>();
        builder.Services.AddTransient<ServiceTokenHandler>();
        return builder;
    }

    /// <summary>
    /// Calls to another platform service carry the current caller's token, or outside a request (a consumer, a worker)
    /// this service's own token; either way the request names its workspace in X-Workspace.
    /// </summary>
    public static IHttpClientBuilder AddPlatformServiceAuthentication(this IHttpClientBuilder client) =>
        client.AddHttpMessageHandler<ServiceTokenHandler>();
}

/// <summary>A caller acts in exactly one workspace: their token's, or for a service the one its request names.</summary>
public sealed class WorkspaceRequirement : IAuthorizationRequirement;

internal sealed class WorkspaceRequirementHandler : AuthorizationHandler<WorkspaceRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, WorkspaceRequirement requirement)
    {
        if (context.Resource is Microsoft.AspNetCore.Http.HttpContext http && Caller.From(http) is not null)
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
