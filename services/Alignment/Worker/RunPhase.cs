namespace MetricAlignment.Alignment.Worker;

/// <summary>The phases of an attempt, in order.</summary>
public enum RunPhase
{
    LoadingAnnotations,
    BuildingDisagreementTraces,
    DistillingGuidelines,
    Finalizing,
}
