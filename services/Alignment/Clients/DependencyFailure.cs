using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace MetricAlignment.Alignment.Clients;

/// <summary>How a call to the Metrics or Annotations service failed, as the HTTP client and its resilience pipeline report it.</summary>
public enum DependencyFailureKind
{
    Unreachable,
    TimedOut,
    /// <summary>The pipeline's circuit opened after repeated failures; the dependency gets a few seconds to recover.</summary>
    CircuitOpen,
    /// <summary>Another strategy of the pipeline (a rate or concurrency limiter) refused the call.</summary>
    Rejected,
}

/// <summary>
/// One reading of a failed call to another service, shared by the two places that tell someone about it: the API's 503
/// answer and the detail a failed run records. The sentences differ only in whose view they take and what to do next.
/// </summary>
public static class DependencyFailure
{
    /// <summary>The kind of dependency failure <paramref name="exception"/> is, or null when it is not one.</summary>
    public static DependencyFailureKind? Classify(Exception exception) => exception switch
    {
        HttpRequestException => DependencyFailureKind.Unreachable,
        // Polly's timeout and open circuit are both ExecutionRejectedExceptions, so they come before it.
        TimeoutRejectedException => DependencyFailureKind.TimedOut,
        BrokenCircuitException => DependencyFailureKind.CircuitOpen,
        ExecutionRejectedException => DependencyFailureKind.Rejected,
        _ => null,
    };

    /// <summary>The sentence for the caller of an API request, who is answered 503 with a Retry-After of a few seconds.</summary>
    public static string? ForApiCaller(Exception exception) => Classify(exception) switch
    {
        DependencyFailureKind.Unreachable => $"A service this one depends on could not be reached: {exception.Message}",
        DependencyFailureKind.TimedOut => "A service this one depends on did not answer in time.",
        DependencyFailureKind.CircuitOpen => "A service this one depends on failed repeatedly; calls to it are paused for a few seconds.",
        DependencyFailureKind.Rejected => "A service this one depends on is not taking calls right now.",
        _ => null,
    };

    /// <summary>The sentence a failed run records: read after the fact, by someone who decides whether to retry the run.</summary>
    public static string? ForFailedRun(Exception exception) => Classify(exception) switch
    {
        DependencyFailureKind.Unreachable => $"A service the run depends on could not be reached: {exception.Message}",
        DependencyFailureKind.TimedOut => "A service the run depends on did not answer in time.",
        DependencyFailureKind.CircuitOpen => "A service the run depends on failed repeatedly, so calls to it were paused; retry the run.",
        DependencyFailureKind.Rejected => "A service the run depends on was not taking calls; retry the run.",
        _ => null,
    };
}
