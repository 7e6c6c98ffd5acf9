namespace MetricAlignment.Alignment.Reflection;

/// <summary>
/// A model-backed phase failed for a reason worth showing the user as is (the message names the provider, the phase
/// and what to do); the worker records <see cref="Exception.Message"/> as the run's failure.
/// </summary>
public class ReflectionFailedException : Exception
{
    public ReflectionFailedException(string phase, string message, Exception? innerException = null)
        : base(message, innerException) => Phase = phase;

    /// <summary>reflection.batch, reflection.merge, verification.baseline or verification.refined.</summary>
    public string Phase { get; }
}

/// <summary>The model kept answering something that is not the requested JSON, after the allowed retries.</summary>
public sealed class MalformedModelAnswerException(string phase, string message)
    : ReflectionFailedException(phase, message);

/// <summary>The next call could take the run past its token budget, so it was not sent.</summary>
public sealed class TokenBudgetExceededException(string phase, long budget, long used, long nextCall)
    : ReflectionFailedException(phase,
        $"The run's token budget of {RunTokenMeter.Format(budget)} tokens would be exceeded: {RunTokenMeter.Format(used)} tokens are spent "
        + $"and the next call ({phase}) may need up to {RunTokenMeter.Format(nextCall)} more. Raise Alignment:Reflection:TokenBudgetPerRun or align fewer rows.")
{
    public long Budget { get; } = budget;
    public long Used { get; } = used;
}
