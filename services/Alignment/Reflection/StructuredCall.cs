namespace MetricAlignment.Alignment.Reflection;

/// <summary>Asks for a structured answer and validates it, asking again (bounded) when the model's JSON is unusable.</summary>
internal static class StructuredCall
{
    public static async Task<T> AskAsync<T>(LlmProvider provider, ModelCall call, Func<string, T> parse, int maxMalformedRetries,
        string what, RunTokenMeter meter, ILogger logger, CancellationToken cancellationToken)
    {
        var attempt = 0;
        var current = call;
        while (true)
        {
            attempt++;
            var answer = await provider.CompleteAsync(current, meter, cancellationToken).ConfigureAwait(false);
            try
            {
                return parse(answer.Text);
            }
            catch (FormatException problem)
            {
                logger.LogWarning("Provider {Provider} model {Model} gave an unusable answer for {Phase} (attempt {Attempt}): {Problem}",
                    provider.Name, call.Model, call.Phase, attempt, problem.Message);
                if (attempt > maxMalformedRetries)
                    throw new MalformedModelAnswerException(call.Phase,
                        $"Model '{call.Model}' of provider '{provider.Name}' did not return a valid answer for {what} after {attempt} attempt{(attempt == 1 ? "" : "s")}: {problem.Message}. "
                        + "The model may not support structured outputs (JSON schema response format); try another model.");
                // The problem text is ours (never the model's answer echoed back), so it cannot smuggle instructions.
                current = call with
                {
                    UserPrompt = call.UserPrompt + $"\n\nYour previous answer was rejected: {problem.Message}. Answer again with a single JSON object that follows the schema exactly.",
                };
            }
        }
    }
}
