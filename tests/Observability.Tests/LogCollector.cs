using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MetricAlignment.Observability.Tests;

/// <summary>
/// A logger provider that keeps every record with the values of the scopes around it, as the JSON console formatter
/// (IncludeScopes) and the OpenTelemetry exporter read them from the host's shared scope provider.
/// </summary>
public sealed class LogCollector : ILoggerProvider, ISupportExternalScope
{
    readonly ConcurrentQueue<CapturedLog> records = new();
    IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<CapturedLog> Records => records.ToArray();

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>Waits until a record matching <paramref name="match"/> is logged; fails with the records seen so far otherwise.</summary>
    public async Task<CapturedLog> WaitForAsync(Func<CapturedLog, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(45));
        while (true)
        {
            var found = records.FirstOrDefault(match);
            if (found is not null) return found;
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"No log record for {what}. Records seen:\n" + string.Join("\n", records.Select(r => $"{r.Level} {r.Category}: {r.Message}")));
            await Task.Delay(100);
        }
    }

    public void Dispose() { }

    sealed class Logger(LogCollector collector, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => collector.scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopeValues = new Dictionary<string, object?>();
            collector.scopes.ForEachScope((scope, values) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                    foreach (var (key, value) in pairs) values[key] = value;
            }, scopeValues);
            collector.records.Enqueue(new CapturedLog(category, logLevel, formatter(state, exception), scopeValues));
        }
    }
}

public sealed record CapturedLog(string Category, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Scopes);
