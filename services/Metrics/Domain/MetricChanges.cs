using MetricAlignment.Metrics.Data;
using Npgsql;

namespace MetricAlignment.Metrics.Domain;

public sealed record NewMetricSpec(
    string Key,
    string Name,
    string Description,
    MetricType Type,
    MetricScope Scope,
    double? ScaleMin,
    double? ScaleMax,
    IReadOnlyList<string>? Labels,
    string SystemPrompt,
    string UserPromptTemplate,
    string Author,
    string ChangeNote);

public sealed record NewVersionSpec(string SystemPrompt, string UserPromptTemplate, VersionAuthor CreatedBy, string ChangeNote);

/// <summary>
/// A fork request. Null fields are taken from the source: the prompts from the base version, the description from
/// the metric. A null <see cref="Key"/> is derived from the name and made unique with a numeric suffix.
/// </summary>
public sealed record ForkSpec(
    int? BaseVersion,
    string? Name,
    string? Key,
    string? Description,
    string? SystemPrompt,
    string? UserPromptTemplate,
    VersionAuthor CreatedBy,
    string? ChangeNote);

public abstract record ChangeResult;

/// <summary>The change exists: made now, or (<see cref="Replayed"/>) by an earlier request of the same alignment run.</summary>
public sealed record ChangeApplied(Metric Metric, MetricVersion Version, int PreviousVersion, bool Replayed) : ChangeResult;

public sealed record ChangeRefused(ChangeRefusal Reason, string Detail, Metric? Metric = null, int? ExpectedVersion = null) : ChangeResult;

public enum ChangeRefusal { MetricNotFound, VersionNotFound, BuiltInMetric, VersionConflict, DuplicateKey }

/// <summary>
/// Every write to the catalogue, each in one transaction, shared by the HTTP API and the bus consumers. Versions of a
/// metric are numbered under a row lock on the metric, so concurrent publishers queue up instead of losing a version.
/// Every write acts for one workspace: it creates custom metrics there and only finds the built-ins and that
/// workspace's own metrics, so another workspace's metric is refused exactly like an unknown one.
/// </summary>
public sealed class MetricChanges(NpgsqlDataSource dataSource, MetricStore store)
{
    const string ForkChange = "fork";
    const string VersionChange = "version";

    /// <summary>Creates a custom metric with version 1. The spec must have passed validation.</summary>
    public async Task<ChangeResult> CreateAsync(string workspace, NewMetricSpec spec, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var id = Guid.CreateVersion7();
        var inserted = await store.TryInsertMetricAsync(connection, transaction, new NewMetricRow(
            id, spec.Key, spec.Name, spec.Description, MetricKind.Custom.ToName(), workspace, spec.Type.ToName(), spec.Scope.ToName(),
            spec.ScaleMin, spec.ScaleMax, spec.Labels?.ToArray(), 1, null, null), cancellationToken);
        if (!inserted)
            return new ChangeRefused(ChangeRefusal.DuplicateKey, DuplicateKeyDetail(spec.Key));

        await store.TryInsertVersionAsync(connection, transaction, new NewVersionRow(
            id, 1, spec.SystemPrompt, spec.UserPromptTemplate, VersionAuthorKind.Manual.ToName(), spec.Author, null, spec.ChangeNote),
            cancellationToken);
        var result = await ReadAppliedAsync(connection, transaction, workspace, id, 1, replayed: false, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// Publishes version current+1 of a custom metric. With <paramref name="expectedCurrentVersion"/>, refuses when the
    /// metric has moved on since the caller looked, unless <paramref name="overrideNewerVersion"/>.
    /// With <paramref name="runId"/>, a repeat of the same run answers with the version it made the first time.
    /// </summary>
    public async Task<ChangeResult> PublishVersionAsync(string workspace, string metricIdOrKey, NewVersionSpec spec, int? expectedCurrentVersion,
        bool overrideNewerVersion, Guid? runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        if (runId is { } run)
        {
            await store.LockRunAsync(connection, transaction, run, cancellationToken);
            if (await store.FindRunChangeAsync(connection, transaction, run, VersionChange, cancellationToken) is { } earlier)
                return await ReplayAsync(connection, transaction, workspace, earlier, metricIdOrKey, cancellationToken);
        }

        var metric = await store.FindAsync(connection, transaction, workspace, metricIdOrKey, forUpdate: true, cancellationToken);
        if (metric is null)
            return new ChangeRefused(ChangeRefusal.MetricNotFound, $"No metric has id or key '{metricIdOrKey}'.");
        if (metric.Kind == MetricKind.BuiltIn)
            return new ChangeRefused(ChangeRefusal.BuiltInMetric,
                $"'{metric.Key}' is a built-in metric and cannot be edited; fork it to change its prompts.", metric);
        if (expectedCurrentVersion is { } expected && expected != metric.CurrentVersion && !overrideNewerVersion)
            return new ChangeRefused(ChangeRefusal.VersionConflict,
                $"Metric '{metric.Key}' is at version {metric.CurrentVersion}, not the expected version {expected}; "
                + "review the newer version before publishing over it.", metric, expected);

        var next = metric.CurrentVersion + 1;
        await store.TryInsertVersionAsync(connection, transaction, new NewVersionRow(
            metric.Id, next, spec.SystemPrompt, spec.UserPromptTemplate, spec.CreatedBy.Kind.ToName(), spec.CreatedBy.Author,
            spec.CreatedBy.AlignmentRunId, spec.ChangeNote), cancellationToken);
        await store.SetCurrentVersionAsync(connection, transaction, metric.Id, next, cancellationToken);
        if (runId is { } newRun)
            await store.RecordRunChangeAsync(connection, transaction, newRun, VersionChange, metric.Id, next, cancellationToken);

        var result = await ReadAppliedAsync(connection, transaction, workspace, metric.Id, next, replayed: false, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// Forks a built-in or one of the workspace's custom metrics into a new custom metric of the workspace, whose
    /// version 1 holds the given prompts and whose lineage points at the source's base version. The source is not touched.
    /// </summary>
    public async Task<ChangeResult> ForkAsync(string workspace, string sourceIdOrKey, ForkSpec spec, Guid? runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        if (runId is { } run)
        {
            await store.LockRunAsync(connection, transaction, run, cancellationToken);
            if (await store.FindRunChangeAsync(connection, transaction, run, ForkChange, cancellationToken) is { } earlier)
                return await ReplayAsync(connection, transaction, workspace, earlier, sourceIdOrKey, cancellationToken);
        }

        var source = await store.FindAsync(connection, transaction, workspace, sourceIdOrKey, forUpdate: false, cancellationToken);
        if (source is null)
            return new ChangeRefused(ChangeRefusal.MetricNotFound, $"No metric has id or key '{sourceIdOrKey}'.");
        var baseVersionNumber = spec.BaseVersion ?? source.CurrentVersion;
        var baseVersion = await store.FindVersionAsync(connection, transaction, source.Id, baseVersionNumber, cancellationToken);
        if (baseVersion is null)
            return new ChangeRefused(ChangeRefusal.VersionNotFound,
                $"Metric '{source.Key}' has no version {baseVersionNumber} (its current version is {source.CurrentVersion}).", source);

        var name = spec.Name?.Trim() is { Length: > 0 } given
            ? given
            : $"{source.Name} ({(spec.CreatedBy.Kind == VersionAuthorKind.AlignmentRun ? "aligned" : "fork")})";
        if (name.Length > MetricRules.MaxNameLength) name = name[..MetricRules.MaxNameLength].TrimEnd();

        var id = Guid.CreateVersion7();
        var row = new NewMetricRow(id, "", name, spec.Description ?? source.Description, MetricKind.Custom.ToName(), workspace, source.Type.ToName(),
            source.Scope.ToName(), source.ScaleMin, source.ScaleMax, source.Labels?.ToArray(), 1, source.Id, baseVersionNumber);
        if (spec.Key is { } key)
        {
            if (!await store.TryInsertMetricAsync(connection, transaction, row with { Key = key }, cancellationToken))
                return new ChangeRefused(ChangeRefusal.DuplicateKey, DuplicateKeyDetail(key), source);
        }
        else
        {
            var derived = MetricRules.DeriveKey(name) ?? MetricRules.DeriveKey(source.Key + "-fork")!;
            for (var attempt = 1; !await store.TryInsertMetricAsync(connection, transaction,
                     row with { Key = attempt == 1 ? derived : MetricRules.WithSuffix(derived, attempt) }, cancellationToken); attempt++)
            {
            }
        }

        await store.TryInsertVersionAsync(connection, transaction, new NewVersionRow(
            id, 1,
            spec.SystemPrompt ?? baseVersion.SystemPrompt,
            spec.UserPromptTemplate ?? baseVersion.UserPromptTemplate,
            spec.CreatedBy.Kind.ToName(), spec.CreatedBy.Author, spec.CreatedBy.AlignmentRunId,
            spec.ChangeNote is { Length: > 0 } note ? note : $"Forked from {source.Key} v{baseVersionNumber}."), cancellationToken);
        if (runId is { } newRun)
            await store.RecordRunChangeAsync(connection, transaction, newRun, ForkChange, id, 1, cancellationToken);

        var result = await ReadAppliedAsync(connection, transaction, workspace, id, 1, replayed: false, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    static string DuplicateKeyDetail(string key) =>
        $"A metric with key '{key}' already exists (a built-in, or a custom metric of this workspace); choose another key.";

    /// <summary>
    /// What a run's earlier request made. A run belongs to one workspace, so a repeat of its id naming another workspace
    /// is answered as that workspace would answer any metric it cannot see.
    /// </summary>
    async Task<ChangeResult> ReplayAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string workspace, RunChange earlier,
        string requestedIdOrKey, CancellationToken cancellationToken)
    {
        var metric = await store.FindAsync(connection, transaction, workspace, earlier.MetricId, forUpdate: false, cancellationToken);
        if (metric is null)
            return new ChangeRefused(ChangeRefusal.MetricNotFound, $"No metric has id or key '{requestedIdOrKey}'.");
        return await ReadAppliedAsync(connection, transaction, workspace, earlier.MetricId, earlier.Version, replayed: true, cancellationToken);
    }

    async Task<ChangeApplied> ReadAppliedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string workspace, Guid metricId,
        int version, bool replayed, CancellationToken cancellationToken)
    {
        var metric = await store.FindAsync(connection, transaction, workspace, metricId, forUpdate: false, cancellationToken)
            ?? throw new InvalidOperationException($"Metric {metricId} vanished inside its own transaction.");
        var stored = await store.FindVersionAsync(connection, transaction, metricId, version, cancellationToken)
            ?? throw new InvalidOperationException($"Version {version} of metric {metricId} vanished inside its own transaction.");
        return new ChangeApplied(metric, stored, version - 1, replayed);
    }
}
