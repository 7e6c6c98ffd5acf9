using System.Security.Claims;
using MetricAlignment.Web.Extensions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MetricAlignment.Deployment.Tests;

/// <summary>
/// Two web replicas, built with the web's own wiring, as two pods that mount the same key-ring volume
/// (deploy/base/web): a session cookie one of them issues must be read by the other.
/// </summary>
public sealed class SessionKeyRingTests : IAsyncLifetime
{
    readonly string scratch = Path.Combine(Path.GetTempPath(), "metric-alignment-keys-" + Guid.NewGuid().ToString("N"));
    readonly List<WebApplication> replicas = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var replica in replicas) await replica.DisposeAsync();
        Directory.Delete(scratch, recursive: true);
    }

    [Fact]
    public void A_session_cookie_issued_by_one_replica_is_read_by_another_that_mounts_the_same_key_ring()
    {
        var keyRing = Path.Combine(scratch, "shared-keys");
        var issuer = Replica("pod-a", keyRing);
        var reader = Replica("pod-b", keyRing);

        var cookie = issuer.Protect(SessionFor("editor"));
        var read = reader.Unprotect(cookie);

        read.Should().NotBeNull("the second replica has the key that protected the cookie");
        read!.Principal.Identity!.Name.Should().Be("editor");
        Directory.GetFiles(keyRing, "*.xml").Should().NotBeEmpty("the key ring is written to the configured path");
    }

    [Fact]
    public void A_replica_with_a_key_ring_of_its_own_refuses_the_cookie()
    {
        // What each pod did before the shared volume: its own keys, so a cookie from another pod is unreadable.
        var issuer = Replica("pod-a", Path.Combine(scratch, "keys-a"));
        var reader = Replica("pod-b", Path.Combine(scratch, "keys-b"));

        reader.Unprotect(issuer.Protect(SessionFor("editor"))).Should().BeNull();
    }

    /// <summary>The session cookie's format as one replica's cookie handler uses it.</summary>
    ISecureDataFormat<AuthenticationTicket> Replica(string podName, string keyRingPath)
    {
        // Separate content roots: the application name, not the path the app runs from, decides who shares keys.
        var contentRoot = Directory.CreateDirectory(Path.Combine(scratch, podName)).FullName;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = contentRoot, EnvironmentName = "Production" });
        builder.Configuration[WebFrontEndExtensions.KeyRingPathKey] = keyRingPath;
        builder.AddWebFrontEnd();
        var app = builder.Build();
        replicas.Add(app);
        return app.Services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>()
            .Get(CookieAuthenticationDefaults.AuthenticationScheme).TicketDataFormat;
    }

    static AuthenticationTicket SessionFor(string name) =>
        new(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], CookieAuthenticationDefaults.AuthenticationScheme)),
            CookieAuthenticationDefaults.AuthenticationScheme);
}
