extern alias webapp;

using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using MetricAlignment.DatasetImport;
using MetricAlignment.ServiceDefaults;
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
/// Aspire would give it. The AppHost trusts the test tokens (<see cref="TestTokens.AppHostArguments"/>) and runs the
/// development issuer, so the browser signs in through the real sign-in page as one of its users.
/// </summary>
public sealed class WebAppFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);
    static readonly string[] Services = ["metrics", "annotations", "alignment"];
    /// <summary>The development issuer's users (services/DevIdentity/appsettings.json) share this password.</summary>
    public const string Password = "metric-alignment";
    public const string Admin = "admin";
    public const string Editor = "editor";
    public const string Viewer = "viewer";
    public const string Annotator = "annotator";
    /// <summary>
    /// An LLM provider whose endpoint refuses connections (nothing listens on port 9 here) and which does not retry, so a
    /// run that names it fails within seconds with a readable error: the browser tests' failed run.
    /// </summary>
    public const string OfflineProvider = "offline";
    public const string OfflineModel = "offline-model";
    static readonly Dictionary<string, string> AlignmentSettings = new()
    {
        [$"Alignment:Providers:{OfflineProvider}:Endpoint"] = "http://127.0.0.1:9/v1",
        [$"Alignment:Providers:{OfflineProvider}:DefaultModel"] = OfflineModel,
        [$"Alignment:Providers:{OfflineProvider}:MaxRetries"] = "0",
        [$"Alignment:Providers:{OfflineProvider}:TimeoutSeconds"] = "10",
    };

    readonly Dictionary<string, string> _databases = new();
    string? _vhost;
    WebFrontEndFactory? _inProcessWeb;
    IPlaywright? _playwright;
    // Signing in once per user is enough; later pages start from that session's cookies.
    readonly Dictionary<string, string> _sessions = new();
    readonly SemaphoreSlim _signInGate = new(1, 1);

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
            .Concat(TestTokens.AppHostArguments)
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
        var alignment = builder.CreateResourceBuilder<ProjectResource>("alignment");
        foreach (var (key, value) in AlignmentSettings) alignment.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
        var webInAppHost = builder.Resources.Any(r => r.Name == "web");
        App = await builder.BuildAsync(cts.Token);
        await App.StartAsync(cts.Token);
        foreach (var service in Services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, cts.Token);
        var identityInAppHost = builder.Resources.Any(r => r.Name == "identity");
        if (identityInAppHost) await App.ResourceNotifications.WaitForResourceHealthyAsync("identity", cts.Token);

        using (var annotations = App.CreateHttpClient("annotations", "http").As(Roles.Admin))
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
            var settings = Services.ToDictionary(s => $"services:{s}:http:0", s => App.GetEndpoint(s, "http").ToString());
            if (identityInAppHost) settings["Auth:TokenEndpoint"] = new Uri(App.GetEndpoint("identity", "http"), "/connect/token").ToString();
            _inProcessWeb = new WebFrontEndFactory(settings);
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

    /// <summary>
    /// A fresh page at a laptop's size, signed in as <paramref name="user"/> (a metric editor unless said otherwise),
    /// opened at the path and ready for clicks (the interactive circuit is up).
    /// </summary>
    public async Task<IPage> OpenAsync(string path, string user = Editor)
    {
        var page = await NewPageAsync(await SessionOfAsync(user));
        await page.GotoAsync(Url(path));
        await WaitInteractiveAsync(page);
        return page;
    }

    /// <summary>A page in a browser context of its own with no session: nobody is signed in.</summary>
    public Task<IPage> OpenSignedOutAsync() => NewPageAsync(null);

    public string Url(string path) => new Uri(WebAddress, path).ToString();

    /// <summary>Fills in and submits the sign-in form the page shows.</summary>
    public static async Task SubmitSignInAsync(IPage page, string user, string password = Password)
    {
        await page.GetByLabel("User name").FillAsync(user);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByTestId("signin-submit").ClickAsync();
    }

    /// <summary>Signs in through the sign-in page and lands on the home page, signed in.</summary>
    public async Task<IPage> SignInAsync(string user)
    {
        var page = await OpenSignedOutAsync();
        await page.GotoAsync(Url("/signin"));
        await SubmitSignInAsync(page, user);
        await Assertions.Expect(page.GetByTestId("session-user")).ToHaveTextAsync(user);
        return page;
    }

    async Task<string> SessionOfAsync(string user)
    {
        await _signInGate.WaitAsync();
        try
        {
            if (_sessions.TryGetValue(user, out var state)) return state;
            var page = await SignInAsync(user);
            state = await page.Context.StorageStateAsync();
            await page.Context.CloseAsync();
            return _sessions[user] = state;
        }
        finally
        {
            _signInGate.Release();
        }
    }

    async Task<IPage> NewPageAsync(string? storageState)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
            StorageState = storageState,
        });
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>A prerendered page ignores clicks until its circuit is connected; the layout says when it is.</summary>
    public static Task WaitInteractiveAsync(IPage page) =>
        page.Locator("[data-interactive=true]").WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });

    /// <summary>A client of one of the services, carrying a test token for the role (an admin unless said otherwise).</summary>
    public HttpClient CreateClient(string service, string role = Roles.Admin) => App.CreateHttpClient(service, "http").As(role);

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
