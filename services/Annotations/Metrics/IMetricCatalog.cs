namespace MetricAlignment.Annotations.Metrics;

/// <summary>The metrics the Metrics service knows, by id or key.</summary>
public interface IMetricCatalog
{
    /// <summary>
    /// The metric with that id or key as the workspace sees it (its own metrics and the built-in ones), or null when the
    /// Metrics service knows no such metric there.
    /// </summary>
    Task<MetricDefinition?> FindAsync(string workspace, string idOrKey, CancellationToken cancellationToken);
}

/// <summary>The Metrics service could not be asked; the request can be retried later.</summary>
public sealed class MetricCatalogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
