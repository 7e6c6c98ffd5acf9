using MetricAlignment.Contracts;

namespace MetricAlignment.Contracts.Tests;

/// <summary>
/// Every type in the contracts assembly, sorted by the role it plays. The public ones (events other services consume,
/// commands other services may send) are documented in docs/asyncapi.yaml with a committed schema each.
/// </summary>
public static class ContractCatalogue
{
    public static readonly Type[] PublicEvents =
    [
        typeof(AlignmentRunQueued), typeof(AlignmentRunStarted), typeof(AlignmentRunPhaseChanged), typeof(AlignmentRunAligned),
        typeof(AlignmentRunFailed), typeof(AlignmentRunCancelled), typeof(AlignmentRunAccepted), typeof(AlignmentRunDiscarded),
        typeof(MetricForked), typeof(MetricVersioned),
    ];

    public static readonly Type[] PublicCommands =
    [
        typeof(StartAlignmentRun), typeof(CancelAlignmentRun), typeof(AcceptAlignmentRun), typeof(DiscardAlignmentRun),
        typeof(RetryAlignmentRun),
    ];

    /// <summary>The saga's conversation with the Metrics service: shared types, but not offered to other consumers.</summary>
    public static readonly Type[] MetricsServiceProtocol =
    [
        typeof(CreateMetricFork), typeof(CreateMetricVersion), typeof(MetricForkCreated), typeof(MetricVersionCreated),
        typeof(MetricChangeRejected),
    ];

    /// <summary>Records nested inside messages, never sent on their own.</summary>
    public static readonly Type[] NestedTypes =
    [
        typeof(ConversationMessage), typeof(ResolvedRow), typeof(ReviewerAnnotation), typeof(RowInput),
    ];

    public static IEnumerable<Type> PublicMessages => PublicEvents.Concat(PublicCommands);

    public static IEnumerable<Type> AllContractTypes =>
        typeof(MetricForked).Assembly.GetExportedTypes().Where(type => type.Namespace == "MetricAlignment.Contracts");

    /// <summary>The fanout exchange MassTransit publishes the type to (its full name with a colon before the type).</summary>
    public static string ExchangeName(Type type) => $"{type.Namespace}:{type.Name}";

    public static string MessageUrn(Type type) => $"urn:message:{type.Namespace}:{type.Name}";

    public static Type ByName(string name) => PublicMessages.Single(type => type.Name == name);
}
