extern alias webapp;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using MetricAlignment.DatasetImport;
using MetricAlignment.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace MetricAlignment.Web.Tests.Browser;

/// <summary>
/// The whole distributed app through the AppHost (metrics, annotations, alignment on the local PostgreSQL and RabbitMQ,
/// each test run with databases and a vhost of its own), the real dataset imported, the web front end serving on a real
/// port, and a headless Chromium to drive it. When the AppHost declares the web project itself, that instance is used;
/// otherwise the front end runs in this process on Kestrel, wired to the services by the same service-discovery settings
/// Aspire would give it.
/// </summary>
public sealed class WebAppFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    static readonly string[] Services = ["metrics", "annotations", "alignment"];

    readonly Dictionary<string, string> _databases = new();
    string? _vhost;
    WebFrontEndFactory? _inProcessWeb;
    IPlaywright? _playwright;

    public DistributedApplication App { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public Uri WebAddress { get; private set; } = null!;
    public IReadOnlyList<ImportedEvaluation> Imported { get; private set; } = [];

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"The browser tests drive Debian's Chromium at {ChromiumPath}; install it with `apt-get install chromium`.");
        // Playwright's 5 s assertion default is shorter than a Blazor round trip when CI runs every test project at once
        // on two cores; the assertions still fail, just not on a busy machine's scheduling.
        Assertions.SetDefaultExpectTimeout(30_000);
        foreach (var name in new[] { "metricsdb", "annotationsdb", "alignmentdb" })
            _databases[name] = await TestInfrastructure.CreateDatabaseAsync("web");
        _vhost = await TestInfrastructure.CreateVirtualHostAsync("web");

        var args = _databases.Select(d => $"--ConnectionStrings:{d.Key}={d.Value}")
            .Append($"--ConnectionStrings:messaging={_vhost}")
            .ToArray();
        using var cts = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(args, cts.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        builder.Services.ConfigureHttpClientDefaults(http => http.AddStandardResilienceHandler(options =>
        {
            options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(120);
            options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(240);
            options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(240);
        }));
        var webInAppHost = builder.Resources.Any(r => r.Name == "web");
        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
        foreach (var service in Services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, cts.Token);

        using (var annotations = App.CreateHttpClient("annotations", "http"))
        {
            annotations.Timeout = TimeSpan.FromMinutes(4);
            Imported = await new AnnotationsImporter(annotations).ImportAsync(RepositoryPaths.Dataset, null, cts.Token);
        }

        if (webInAppHost)
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync("web", cts.Token);
            WebAddress = App.GetEndpoint("web", "http");
        }
        else
        {
            _inProcessWeb = new WebFrontEndFactory(Services.ToDictionary(s => $"services:{s}:http:0", s => App.GetEndpoint(s, "http").ToString()));
            _inProcessWeb.UseKestrel(0);
            _inProcessWeb.StartServer();
            var address = _inProcessWeb.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            WebAddress = new Uri(address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1"));
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A fresh page at a laptop's size, opened at the path and ready for clicks (the interactive circuit is up).</summary>
    public async Task<IPage> OpenAsync(string path)
    {
        var page = await Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1366, Height = 900 } });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync(new Uri(WebAddress, path).ToString());
        await WaitInteractiveAsync(page);
        return page;
    }

    /// <summary>A prerendered page ignores clicks until its circuit is connected; the layout says when it is.</summary>
    public static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-interactive=true]").WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });

    public HttpClient CreateClient(string service) => App.CreateHttpClient(service, "http");

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (_inProcessWeb is not null) await _inProcessWeb.DisposeAsync();
        if (App is not null) await App.DisposeAsync();
        foreach (var connectionString in _databases.Values)
            await TestInfrastructure.DropDatabaseAsync(connectionString);
        if (_vhost is not null) await TestInfrastructure.DeleteVirtualHostAsync(_vhost);
    }

    sealed class WebFrontEndFactory(IReadOnlyDictionary<string, string> settings) : WebApplicationFactory<webapp::Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.UseEnvironment("Development");
            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class WebAppCollection : ICollectionFixture<WebAppFixture>
{
    public const string Name = "web front end";
}
