using MassTransit;
using MetricAlignment.Contracts;
using MetricAlignment.Metrics.Domain;
using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Metrics.Consumers;

/// <summary>
/// An alignment run's refined prompt for a metric it may not (or should not) edit in place: a new custom fork in the run's
/// workspace. The source must be a built-in or a metric of that workspace; any other is refused as not found.
/// </summary>
public sealed class CreateMetricForkConsumer(MetricChanges changes, ILogger<CreateMetricForkConsumer> logger) : IConsumer<CreateMetricFork>
{
    public const string Author = "alignment-service";

    public async Task Consume(ConsumeContext<CreateMetricFork> context)
    {
        var request = context.Message;
        using var logScope = logger.BeginScope(Telemetry.RunScope(request.RunId, request.MetricId, workspace: request.Workspace));
        System.Diagnostics.Activity.Current?.SetTag(Telemetry.Tags.RunId, request.RunId).SetTag(Telemetry.Tags.MetricId, request.MetricId);
        var errors = new ValidationErrors();
        MetricRules.ValidatePrompts(request.SystemPrompt, request.UserPromptTemplate, errors);
        if (request.Name is not null) MetricRules.ValidateName(request.Name, errors);
        MetricRules.ValidateChangeNote(request.ChangeNote, errors, required: false);
        if (errors.Any)
        {
            await context.RespondAsync(new MetricChangeRejected
            {
                RunId = request.RunId,
                MetricId = request.MetricId,
                Reason = RejectionReasons.InvalidPrompt,
                Detail = errors.ToString(),
            });
            return;
        }

        if (!Caller.IsValidWorkspace(request.Workspace))
        {
            // No metric belongs to a workspace that cannot exist; answer as for any metric the workspace cannot see.
            await context.RespondAsync(RejectionReasons.UnknownWorkspace(request.RunId, request.MetricId, request.Workspace));
            return;
        }

        var result = await changes.ForkAsync(request.Workspace, request.MetricId.ToString(), new ForkSpec(
            request.BaseVersion, request.Name, Key: null, Description: null, request.SystemPrompt, request.UserPromptTemplate,
            new VersionAuthor(VersionAuthorKind.AlignmentRun, Author, request.RunId), request.ChangeNote.Trim()),
            request.RunId, context.CancellationToken);

        switch (result)
        {
            case ChangeApplied applied:
                if (!applied.Replayed)
                    logger.LogInformation("Alignment run {RunId} forked metric {SourceMetricId} v{BaseVersion} into {MetricKey}",
                        request.RunId, request.MetricId, request.BaseVersion, applied.Metric.Key);
                await context.RespondAsync(new MetricForkCreated
                {
                    RunId = request.RunId,
                    SourceMetricId = applied.Metric.ForkedFrom!.MetricId,
                    SourceVersion = applied.Metric.ForkedFrom.Version,
                    NewMetricId = applied.Metric.Id,
                    NewMetricKey = applied.Metric.Key,
                    NewMetricName = applied.Metric.Name,
                    NewVersion = applied.Version.Version,
                    CreatedAt = applied.Version.CreatedAt,
                });
                break;
            case ChangeRefused refused:
                logger.LogWarning("Alignment run {RunId}: fork of metric {MetricId} refused: {Detail}", request.RunId, request.MetricId, refused.Detail);
                await context.RespondAsync(RejectionReasons.From(request.RunId, request.MetricId, refused));
                break;
        }
    }
}

public sealed class CreateMetricForkConsumerDefinition : ConsumerDefinition<CreateMetricForkConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CreateMetricForkConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(TransientDatabaseRetry.Configure);
    }
}
