using Microsoft.Extensions.Configuration;

var builder = DistributedApplication.CreateBuilder(args);

// Where connection strings are configured (a machine without Docker, or managed services) they are used as they
// are; otherwise Aspire runs PostgreSQL and RabbitMQ in containers.
var external = !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString("messaging"));

IResourceBuilder<IResourceWithConnectionString> metricsDb, annotationsDb, alignmentDb, messaging;
if (external)
{
    metricsDb = builder.AddConnectionString("metricsdb");
    annotationsDb = builder.AddConnectionString("annotationsdb");
    alignmentDb = builder.AddConnectionString("alignmentdb");
    messaging = builder.AddConnectionString("messaging");
}
else
{
    var postgres = builder.AddPostgres("postgres").WithDataVolume();
    metricsDb = postgres.AddDatabase("metricsdb");
    annotationsDb = postgres.AddDatabase("annotationsdb");
    alignmentDb = postgres.AddDatabase("alignmentdb");
    messaging = builder.AddRabbitMQ("messaging").WithManagementPlugin().WithDataVolume();
}

// Each service may connect to the broker as a user of its own (eng/infra.sh env --services): with
// ConnectionStrings:messaging_<service> configured, that service gets it as its "messaging" connection.
IResourceBuilder<IResourceWithConnectionString> MessagingFor(string service)
{
    var own = external ? builder.Configuration.GetConnectionString($"messaging_{service.Replace('-', '_')}") : null;
    if (string.IsNullOrWhiteSpace(own)) return messaging;
    var secret = builder.AddParameter($"messaging-{service}-connection", own, secret: true);
    return builder.AddConnectionString($"messaging-{service}", ReferenceExpression.Create($"{secret}"));
}

// Who may call the APIs (docs/security.md). With Auth:Authority configured, tokens come from that identity provider;
// otherwise the development issuer runs here, with a signing key made for this run unless Auth:SigningKey is given.
var authority = builder.Configuration["Auth:Authority"];
var issuer = builder.Configuration["Auth:Issuer"] ?? (string.IsNullOrWhiteSpace(authority) ? "metric-alignment-dev" : authority);
IResourceBuilder<ProjectResource>? identity = null;
IResourceBuilder<ParameterResource>? signingKey = null;
if (string.IsNullOrWhiteSpace(authority))
{
    var key = builder.Configuration["Auth:SigningKey"];
    if (string.IsNullOrWhiteSpace(key)) key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    signingKey = builder.AddParameter("auth-signing-key", key, secret: true);
    identity = builder.AddProject<Projects.DevIdentity>("identity")
        .WithEnvironment("Auth__Issuer", issuer)
        .WithEnvironment("Auth__SigningKey", signingKey)
        .WithHttpHealthCheck("/health");
}

IResourceBuilder<ProjectResource> Authenticated(IResourceBuilder<ProjectResource> service, string clientId)
{
    service.WithEnvironment("Auth__Issuer", issuer).WithEnvironment("Auth__ClientId", clientId);
    if (!string.IsNullOrWhiteSpace(authority))
    {
        service.WithEnvironment("Auth__Authority", authority);
        if (builder.Configuration[$"Auth:ClientSecrets:{clientId}"] is { Length: > 0 } secret)
            service.WithEnvironment("Auth__ClientSecret", secret);
        if (builder.Configuration["Auth:TokenEndpoint"] is { Length: > 0 } tokenEndpoint)
            service.WithEnvironment("Auth__TokenEndpoint", tokenEndpoint);
        return service;
    }
    var endpoint = identity!.GetEndpoint("http");
    return service
        .WithEnvironment("Auth__SigningKey", signingKey!)
        .WithEnvironment("Auth__TokenEndpoint", ReferenceExpression.Create($"{endpoint}/connect/token"))
        .WithEnvironment("Auth__ClientSecret", $"{clientId}-dev-secret")
        .WaitFor(identity!);
}

var metrics = builder.AddProject<Projects.Metrics>("metrics")
    .WithReference(metricsDb).WaitFor(metricsDb)
    .WithReference(MessagingFor("metrics"), "messaging").WaitFor(messaging)
    .WithHttpHealthCheck("/health");
Authenticated(metrics, "metrics");

var annotations = builder.AddProject<Projects.Annotations>("annotations")
    .WithReference(annotationsDb).WaitFor(annotationsDb)
    .WithReference(MessagingFor("annotations"), "messaging").WaitFor(messaging)
    .WithReference(metrics).WaitFor(metrics)
    .WithHttpHealthCheck("/health");
Authenticated(annotations, "annotations");

var alignment = builder.AddProject<Projects.Alignment>("alignment")
    .WithReference(alignmentDb).WaitFor(alignmentDb)
    .WithReference(MessagingFor("alignment"), "messaging").WaitFor(messaging)
    .WithReference(metrics).WaitFor(metrics)
    .WithReference(annotations).WaitFor(annotations)
    .WithHttpHealthCheck("/health");
Authenticated(alignment, "alignment");

// Several instances share the run queue (competing consumers); each hears every cancellation.
var alignmentReplicas = builder.Configuration.GetValue("Alignment:Replicas", 1);
if (alignmentReplicas > 1) alignment.WithReplicas(alignmentReplicas);

// A sample consumer of the public events: it shows how another service is meant to consume them.
Authenticated(builder.AddProject<Projects.AuditLog>("audit-log")
    .WithReference(MessagingFor("audit-log"), "messaging").WaitFor(messaging)
    .WithHttpHealthCheck("/health"), "audit-log");

var web = builder.AddProject<Projects.Web>("web")
    .WithReference(metrics).WaitFor(metrics)
    .WithReference(annotations).WaitFor(annotations)
    .WithReference(alignment).WaitFor(alignment)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();
Authenticated(web, "web");
// The sign-in page trades a person's name and password for a token at the issuer's token endpoint.
if (identity is not null) web.WithReference(identity);

builder.Build().Run();
