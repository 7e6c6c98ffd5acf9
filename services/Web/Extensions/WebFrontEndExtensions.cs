using System.Text.Json;
using System.Text.Json.Serialization;
using MetricAlignment.Web.Auth;
using MetricAlignment.Web.Clients;
using MetricAlignment.Web.Components;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Http.Resilience;

namespace MetricAlignment.Web.Extensions;

public static class WebFrontEndExtensions
{
    /// <summary>Service names resolved by Aspire service discovery (services:metrics:http:0 and so on).</summary>
    public const string MetricsAddress = "http://metrics";
    public const string AnnotationsAddress = "http://annotations";
    public const string AlignmentAddress = "http://alignment";

    /// <summary>The services' JSON: camelCase names, enums as snake_case strings.</summary>
    public static readonly JsonSerializerOptions ApiJson = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>Directory of the Data Protection key ring shared by every replica (a volume they all mount).</summary>
    public const string KeyRingPathKey = "DataProtection:KeyRingPath";

    /// <summary>Keys are isolated by application name; a fixed one lets replicas with different content roots share them.</summary>
    public const string DataProtectionApplicationName = "metric-alignment-web";

    public static WebApplicationBuilder AddWebFrontEnd(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddSharedKeyRing(builder.Configuration);
        builder.AddWebAuthentication();
        // A retried POST could queue a second alignment run or annotate twice; only reads are retried.
        builder.Services.ConfigureAll<HttpStandardResilienceOptions>(options => options.Retry.DisableForUnsafeHttpMethods());
        builder.Services.AddHttpClient<MetricsClient>(http => http.BaseAddress = new Uri(MetricsAddress)).AddSignedInUserToken();
        builder.Services.AddHttpClient<AnnotationsClient>(http => http.BaseAddress = new Uri(AnnotationsAddress)).AddSignedInUserToken();
        builder.Services.AddHttpClient<AlignmentClient>(http => http.BaseAddress = new Uri(AlignmentAddress)).AddSignedInUserToken();
        return builder;
    }

    /// <summary>
    /// The keys that protect the session cookie and the antiforgery tokens. Without a shared ring each replica makes its
    /// own, so a cookie issued by one pod is refused by the next, and every rollout signs everyone out.
    /// </summary>
    public static IServiceCollection AddSharedKeyRing(this IServiceCollection services, IConfiguration configuration)
    {
        var dataProtection = services.AddDataProtection().SetApplicationName(DataProtectionApplicationName);
        if (configuration[KeyRingPathKey] is { Length: > 0 } keyRingPath)
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(keyRingPath));
        return services;
    }

    public static WebApplication UseWebFrontEnd(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        // The sign-in page needs its stylesheet and scripts before anyone is signed in.
        app.MapStaticAssets().AllowAnonymous();
        app.MapSignOut();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
