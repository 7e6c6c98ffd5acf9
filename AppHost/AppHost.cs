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

var metrics = builder.AddProject<Projects.Metrics>("metrics")
    .WithReference(metricsDb).WaitFor(metricsDb)
    .WithReference(messaging).WaitFor(messaging)
    .WithHttpHealthCheck("/health");

var annotations = builder.AddProject<Projects.Annotations>("annotations")
    .WithReference(annotationsDb).WaitFor(annotationsDb)
    .WithReference(messaging).WaitFor(messaging)
    .WithReference(metrics).WaitFor(metrics)
    .WithHttpHealthCheck("/health");

var alignment = builder.AddProject<Projects.Alignment>("alignment")
    .WithReference(alignmentDb).WaitFor(alignmentDb)
    .WithReference(messaging).WaitFor(messaging)
    .WithReference(metrics).WaitFor(metrics)
    .WithReference(annotations).WaitFor(annotations)
    .WithHttpHealthCheck("/health");

// Several instances share the run queue (competing consumers); each hears every cancellation.
var alignmentReplicas = builder.Configuration.GetValue("Alignment:Replicas", 1);
if (alignmentReplicas > 1) alignment.WithReplicas(alignmentReplicas);

// A sample consumer of the public events: it shows how another service is meant to consume them.
builder.AddProject<Projects.AuditLog>("audit-log")
    .WithReference(messaging).WaitFor(messaging)
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.Web>("web")
    .WithReference(metrics).WaitFor(metrics)
    .WithReference(annotations).WaitFor(annotations)
    .WithReference(alignment).WaitFor(alignment)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

builder.Build().Run();
