namespace MetricAlignment.Annotations.Metrics;

/// <summary>The metrics the Metrics service knows, by id or key.</summary>
public interface IMetricCatalog
{
    /// <summary>The metric with that id or key, or null when the Metrics service does not know it.</summary>
    Task<MetricDefinition?> FindAsync(string idOrKey, CancellationToken cancellationToken);
}

/// <summary>The Metrics service could not be asked; the request can be retried later.</summary>
public sealed class MetricCatalogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
