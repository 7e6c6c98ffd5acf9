using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Server.Circuits;

namespace MetricAlignment.Web.Auth;

/// <summary>
/// Sign-in for the front end: a session cookie holding the person's access token from the issuer, every page behind it,
/// and the token carried on to the APIs, which check its signature and the person's roles.
/// </summary>
public static class WebAuthExtensions
{
    public const string CookieName = "MetricAlignment.Session";
    public const string SignInPath = "/signin";
    public const string SignOutPath = "/signout";

    public static WebApplicationBuilder AddWebAuthentication(this WebApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(options =>
        {
            options.Cookie.Name = CookieName;
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Lax;
            options.LoginPath = SignInPath;
            options.LogoutPath = SignOutPath;
            options.ReturnUrlParameter = "returnUrl";
            // The session lasts exactly as long as the token (the sign-in sets ExpiresUtc); it is never extended.
            options.SlidingExpiration = false;
            options.Events.OnValidatePrincipal = async context =>
            {
                if (SignedInUser.From(context.Principal) is { } user && !user.IsExpired(DateTimeOffset.UtcNow)) return;
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            };
        });
        // Every page needs a signed-in person; the sign-in page and the error pages say [AllowAnonymous]. What a role may do
        // is the APIs' decision; the pages only hide what would be refused (SignedInUser.Can).
        builder.Services.AddAuthorization(options =>
            options.FallbackPolicy = new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<CurrentUser>();
        builder.Services.AddSingleton<CircuitServicesAccessor>();
        builder.Services.AddScoped<CircuitHandler, ServicesAccessorCircuitHandler>();
        builder.Services.AddTransient<AccessTokenHandler>();
        builder.Services.AddHttpClient<TokenIssuer>();
        return builder;
    }

    /// <summary>Carries the signed-in person's token on this client's calls.</summary>
    public static IHttpClientBuilder AddSignedInUserToken(this IHttpClientBuilder client) => client.AddHttpMessageHandler<AccessTokenHandler>();

    /// <summary>Starts a session for the person (the cookie expires with their token).</summary>
    public static Task SignInAsync(HttpContext context, SignedInUser user) =>
        context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, user.ToPrincipal(), new AuthenticationProperties
        {
            IsPersistent = false,
            AllowRefresh = false,
            IssuedUtc = DateTimeOffset.UtcNow,
            ExpiresUtc = user.ExpiresAt,
        });

    public static IEndpointRouteBuilder MapSignOut(this IEndpointRouteBuilder endpoints)
    {
        // A form post with the antiforgery token, so that another site cannot sign a person out.
        endpoints.MapPost(SignOutPath, async (HttpContext context, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The sign-out form has expired",
                    detail: "Reload the page and sign out again.");
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect(SignInPath);
        }).AllowAnonymous().DisableAntiforgery();
        return endpoints;
    }
}
