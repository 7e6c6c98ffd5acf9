using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using MetricAlignment.ServiceDefaults;
using OpenAI;
using OpenAI.Chat;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace MetricAlignment.Alignment.Reflection;

/// <summary>One structured-output chat call: the prompts, the JSON schema the answer must follow, and its budget.</summary>
public sealed record ModelCall
{
    public required string Model { get; init; }
    /// <summary>Where the tokens are booked and what errors name: reflection.batch, reflection.merge, verification.*.</summary>
    public required string Phase { get; init; }
    public required string SystemPrompt { get; init; }
    public required string UserPrompt { get; init; }
    public required string SchemaName { get; init; }
    public required BinaryData Schema { get; init; }
    public int MaxOutputTokens { get; init; } = 1000;
    public float? Temperature { get; init; }
}

public sealed record ModelAnswer(string Text, long PromptTokens, long CompletionTokens);

/// <summary>
/// A configured provider: an OpenAI SDK client per model (the SDK's own retries off) behind one Polly pipeline per
/// provider — retry with jittered exponential backoff honouring Retry-After on 429/5xx/timeouts/network errors, a
/// circuit breaker, the requests-per-minute and concurrency limits, and a per-attempt timeout. Cancelling the caller's
/// token cancels the call in flight, a backoff wait or a queue wait at once.
/// </summary>
public sealed class LlmProvider
{
    readonly ProviderOptions options;
    readonly ILogger logger;
    readonly ResiliencePipeline pipeline;
    readonly ConcurrentDictionary<string, ChatClient> clients = new(StringComparer.Ordinal);

    public LlmProvider(string name, ProviderOptions options, ILogger<LlmProvider> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        Name = name;
        this.options = options;
        this.logger = logger;
        pipeline = BuildPipeline();
    }

    public string Name { get; }
    public int MaxConcurrency => options.MaxConcurrency;

    public override string ToString() => $"{Name} ({options})";

    /// <summary>
    /// Sends the call and returns the answer's text with the tokens it cost, booked on <paramref name="meter"/>.
    /// Failures that outlast the retries become a <see cref="ReflectionFailedException"/> with a readable message.
    /// </summary>
    public async Task<ModelAnswer> CompleteAsync(ModelCall call, RunTokenMeter meter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(meter);
        var countedPrompt = TokenCounter.CountChat(call.SystemPrompt, call.UserPrompt);
        var reservation = countedPrompt + call.MaxOutputTokens;
        meter.Reserve(call.Phase, reservation);
        var attempts = 0;
        // One span per model call (retries included); prompts and keys stay out of telemetry.
        using var span = Telemetry.ActivitySource.StartActivity("llm.chat", System.Diagnostics.ActivityKind.Client);
        span?.SetTag("gen_ai.operation.name", "chat");
        span?.SetTag("gen_ai.provider.name", Name);
        span?.SetTag("gen_ai.request.model", call.Model);
        span?.SetTag("llm.call", call.Phase);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var client = clients.GetOrAdd(call.Model, CreateClient);
            var completion = await pipeline.ExecuteAsync(async token =>
            {
                Interlocked.Increment(ref attempts);
                var chatOptions = new ChatCompletionOptions
                {
                    ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat(call.SchemaName, call.Schema, jsonSchemaIsStrict: true),
                    MaxOutputTokenCount = call.MaxOutputTokens,
                    Temperature = call.Temperature,
                };
                ChatMessage[] messages = [new SystemChatMessage(call.SystemPrompt), new UserChatMessage(call.UserPrompt)];
                ClientResult<ChatCompletion> result = await client.CompleteChatAsync(messages, chatOptions, token).ConfigureAwait(false);
                return result.Value;
            }, cancellationToken).ConfigureAwait(false);

            var text = string.Concat(completion.Content.Where(p => p.Kind == ChatMessageContentPartKind.Text).Select(p => p.Text));
            // Some compatible servers report no usage; the local count keeps the budget honest then.
            var promptTokens = completion.Usage is { InputTokenCount: > 0 } usage ? usage.InputTokenCount : countedPrompt;
            var completionTokens = completion.Usage is { OutputTokenCount: > 0 } used ? used.OutputTokenCount : TokenCounter.Count(text);
            meter.Record(call.Phase, promptTokens, completionTokens, reservation);
            reservation = 0;
            RecordUsage(span, call.Model, promptTokens, completionTokens, attempts);
            return new ModelAnswer(text, promptTokens, completionTokens);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (BrokenCircuitException exception)
        {
            var retryAfter = exception.RetryAfter is { } wait ? $" for about {Seconds(wait)} s" : "";
            throw new ReflectionFailedException(call.Phase,
                $"Provider '{Name}' is failing repeatedly, so calls to it are paused{retryAfter} (circuit open); {call.Phase} could not run. "
                + "Check the provider's health and retry the run.", exception);
        }
        catch (TimeoutRejectedException exception)
        {
            throw new ReflectionFailedException(call.Phase,
                $"Provider '{Name}' did not answer {call.Phase} for model '{call.Model}' within {Seconds(TimeSpan.FromSeconds(options.TimeoutSeconds))} s "
                + $"({Attempts(attempts)}). Raise Alignment:Providers:{Name}:TimeoutSeconds or check the server.", exception);
        }
        catch (RateLimiterRejectedException exception)
        {
            throw new ReflectionFailedException(call.Phase,
                $"Provider '{Name}' refused {call.Phase} locally: its rate or concurrency limit queue is full.", exception);
        }
        catch (ClientResultException exception)
        {
            var what = exception.Status == 0 ? $"could not be reached at {options.Endpoint?.ToString() ?? "its default endpoint"}" : $"answered HTTP {exception.Status}";
            throw new ReflectionFailedException(call.Phase,
                $"Provider '{Name}' {what} for {call.Phase} with model '{call.Model}' ({Attempts(attempts)}): {Brief(exception.Message)}", exception);
        }
        catch (HttpRequestException exception)
        {
            throw new ReflectionFailedException(call.Phase,
                $"Provider '{Name}' could not be reached for {call.Phase} ({Attempts(attempts)}): {Brief(exception.Message)}", exception);
        }
        finally
        {
            // The reservation is only still held when the call did not complete.
            if (reservation > 0) span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, cancellationToken.IsCancellationRequested ? "cancelled" : "failed");
            if (reservation > 0) meter.Release(reservation);
            Telemetry.LlmCallDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>(Telemetry.Tags.Provider, Name), new KeyValuePair<string, object?>(Telemetry.Tags.Model, call.Model));
        }
    }

    void RecordUsage(System.Diagnostics.Activity? span, string model, long promptTokens, long completionTokens, int attempts)
    {
        span?.SetTag("gen_ai.usage.input_tokens", promptTokens);
        span?.SetTag("gen_ai.usage.output_tokens", completionTokens);
        span?.SetTag("llm.attempts", attempts);
        var provider = new KeyValuePair<string, object?>(Telemetry.Tags.Provider, Name);
        var modelTag = new KeyValuePair<string, object?>(Telemetry.Tags.Model, model);
        Telemetry.LlmTokens.Add(promptTokens, provider, modelTag, new KeyValuePair<string, object?>(Telemetry.Tags.Kind, "prompt"));
        Telemetry.LlmTokens.Add(completionTokens, provider, modelTag, new KeyValuePair<string, object?>(Telemetry.Tags.Kind, "completion"));
    }

    ChatClient CreateClient(string model)
    {
        var clientOptions = new OpenAIClientOptions
        {
            // Polly is the single retry policy; the SDK retrying too would multiply attempts and hide Retry-After.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // The per-attempt timeout is Polly's; the transport's must not fire first.
            NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds + 30),
        };
        if (options.Endpoint is not null) clientOptions.Endpoint = options.Endpoint;
        var key = options.ResolveApiKey();
        if (options.ParsedKind == ProviderKind.AzureOpenAI && !string.IsNullOrEmpty(key))
            clientOptions.AddPolicy(new ApiKeyHeaderPolicy(key), PipelinePosition.PerCall);
        // Local servers (Ollama, vLLM without --api-key) take no key, but the SDK wants a non-empty credential.
        return new ChatClient(model, new ApiKeyCredential(string.IsNullOrEmpty(key) ? "no-key" : key), clientOptions);
    }

    ResiliencePipeline BuildPipeline()
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(options.RetryBaseDelaySeconds),
                MaxDelay = TimeSpan.FromSeconds(Math.Max(options.RetryBaseDelaySeconds, options.MaxRetryAfterSeconds)),
                ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome.Exception, args.Context.CancellationToken, countRateLimits: true)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    logger.LogWarning("Model call to provider {Provider} failed ({Reason}); retry {Attempt} of {MaxRetries} in {DelayMs} ms",
                        Name, Describe(args.Outcome.Exception), args.AttemptNumber + 1, options.MaxRetries, (long)args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            });
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = options.BreakerFailureRatio,
            MinimumThroughput = options.BreakerMinimumThroughput,
            SamplingDuration = TimeSpan.FromSeconds(options.BreakerSamplingSeconds),
            BreakDuration = TimeSpan.FromSeconds(options.BreakerBreakSeconds),
            // A 429 says "slow down", not "broken": it is retried but does not open the breaker.
            ShouldHandle = args => ValueTask.FromResult(IsTransient(args.Outcome.Exception, args.Context.CancellationToken, countRateLimits: false)),
            OnOpened = args =>
            {
                logger.LogError("Circuit for provider {Provider} opened for {BreakSeconds} s after repeated failures ({Reason})",
                    Name, args.BreakDuration.TotalSeconds, Describe(args.Outcome.Exception));
                return default;
            },
        });
        if (options.RequestsPerMinute > 0)
            builder.AddRateLimiter(new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
            {
                PermitLimit = options.RequestsPerMinute,
                Window = TimeSpan.FromMinutes(1),
                SegmentsPerWindow = 6,
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            }));
        builder.AddConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.MaxConcurrency,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        builder.AddTimeout(TimeSpan.FromSeconds(options.TimeoutSeconds));
        return builder.Build();
    }

    static bool IsTransient(Exception? exception, CancellationToken callerToken, bool countRateLimits) => exception switch
    {
        ClientResultException { Status: 429 } => countRateLimits,
        ClientResultException { Status: 0 or 408 or >= 500 } => true,
        TimeoutRejectedException or HttpRequestException => true,
        OperationCanceledException => !callerToken.IsCancellationRequested,
        _ => false,
    };

    /// <summary>The server's Retry-After (retry-after-ms, or Retry-After in seconds or as a date), capped; null for the backoff.</summary>
    TimeSpan? RetryAfter(Exception? exception)
    {
        if (exception is not ClientResultException clientException || clientException.GetRawResponse() is not { } response) return null;
        TimeSpan? wait = null;
        if (response.Headers.TryGetValue("retry-after-ms", out var ms) && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out var milliseconds))
            wait = TimeSpan.FromMilliseconds(milliseconds);
        else if (response.Headers.TryGetValue("Retry-After", out var value) && value is not null)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)) wait = TimeSpan.FromSeconds(seconds);
            else if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date)) wait = date - DateTimeOffset.UtcNow;
        }
        if (wait is not { } delay) return null;
        var cap = TimeSpan.FromSeconds(options.MaxRetryAfterSeconds);
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > cap ? cap : delay;
    }

    static string Describe(Exception? exception) => exception switch
    {
        ClientResultException { Status: 0 } => "no response",
        ClientResultException client => $"HTTP {client.Status}",
        TimeoutRejectedException => "timed out",
        null => "no exception",
        _ => exception.GetType().Name,
    };

    static string Attempts(int attempts) => attempts == 1 ? "1 attempt" : $"{attempts} attempts";
    static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
    static string Brief(string message) => message.Length <= 300 ? message : string.Concat(message.AsSpan(0, 300), "…");

    /// <summary>Azure OpenAI authenticates with an api-key header; sending it beside the bearer works on its v1 endpoint.</summary>
    sealed class ApiKeyHeaderPolicy(string key) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", key);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", key);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }

        public override string ToString() => "api-key: [redacted]";
    }
}
