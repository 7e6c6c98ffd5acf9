using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Metrics.Consumers;

/// <summary>
/// An alignment run's refined prompt published as the next version of a custom metric of the run's workspace; a metric
/// of another workspace is refused as not found.
/// </summary>
public sealed class CreateMetricVersionConsumer(MetricChanges changes, ILogger<CreateMetricVersionConsumer> logger) : IConsumer<CreateMetricVersion>
{
    public async Task Consume(ConsumeContext<CreateMetricVersion> context)
    {
        var request = context.Message;
        using var logScope = logger.BeginScope(Telemetry.RunScope(request.RunId, request.MetricId, workspace: request.Workspace));
        System.Diagnostics.Activity.Current?.SetTag(Telemetry.Tags.RunId, request.RunId).SetTag(Telemetry.Tags.MetricId, request.MetricId);
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts(request.SystemPrompt, request.UserPromptTemplate, errors);
        MetricRules.ValidateChangeNote(request.ChangeNote, errors, required: true);
        if (errors.Any)
        {
            await context.RespondAsync(new MetricChangeRejected
            {
                RunId = request.RunId,
                MetricId = request.MetricId,
                Reason = RejectionReasons.InvalidPrompt,
                Detail = errors.ToString(),
                ExpectedVersion = request.ExpectedCurrentVersion,
            });
            return;
        }

        if (!Caller.IsValidWorkspace(request.Workspace))
        {
            await context.RespondAsync(RejectionReasons.UnknownWorkspace(request.RunId, request.MetricId, request.Workspace) with
            {
                ExpectedVersion = request.ExpectedCurrentVersion,
            });
            return;
        }

        var result = await changes.PublishVersionAsync(request.Workspace, request.MetricId.ToString(), new NewVersionSpec(
                request.SystemPrompt, request.UserPromptTemplate,
                new VersionAuthor(VersionAuthorKind.AlignmentRun, CreateMetricForkConsumer.Author, request.RunId), request.ChangeNote.Trim()),
            request.ExpectedCurrentVersion, request.OverrideNewerVersion, request.RunId, context.CancellationToken);

        switch (result)
        {
            case ChangeApplied applied:
                if (!applied.Replayed)
                    logger.LogInformation("Alignment run {RunId} published version {Version} of metric {MetricKey}",
                        request.RunId, applied.Version.Version, applied.Metric.Key);
                await context.RespondAsync(new MetricVersionCreated
                {
                    RunId = request.RunId,
                    MetricId = applied.Metric.Id,
                    MetricKey = applied.Metric.Key,
                    PreviousVersion = applied.PreviousVersion,
                    NewVersion = applied.Version.Version,
                    CreatedAt = applied.Version.CreatedAt,
                });
                break;
            case ChangeRefused refused:
                logger.LogWarning("Alignment run {RunId}: new version of metric {MetricId} refused: {Detail}", request.RunId, request.MetricId, refused.Detail);
                await context.RespondAsync(RejectionReasons.From(request.RunId, request.MetricId, refused) with
                {
                    ExpectedVersion = request.ExpectedCurrentVersion,
                });
                break;
        }
    }
}

public sealed class CreateMetricVersionConsumerDefinition : ConsumerDefinition<CreateMetricVersionConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CreateMetricVersionConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(TransientDatabaseRetry.Configure);
    }
}
