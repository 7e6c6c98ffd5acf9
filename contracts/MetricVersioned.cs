namespace MetricAlignment.Contracts;

/// <summary>A custom metric gained a version carrying an accepted run's refined prompt.</summary>
public sealed record MetricVersioned
{
    public required Guid RunId { get; init; }
    /// <summary>The workspace the run and its metric belong to; a consumer keeps workspaces apart by it.</summary>
    public required string Workspace { get; init; }
    public required Guid MetricId { get; init; }
    public required string MetricKey { get; init; }
    public required int PreviousVersion { get; init; }
    public required int NewVersion { get; init; }
    /// <summary>The version the run aligned; differs from <see cref="PreviousVersion"/> when the accept overrode a newer version.</summary>
    public required int AlignedVersion { get; init; }
    public required DateTimeOffset VersionedAt { get; init; }
}
