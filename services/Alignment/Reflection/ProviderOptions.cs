namespace MetricAlignment.Alignment.Reflection;

/// <summary>How a provider's endpoint expects to be called.</summary>
public enum ProviderKind
{
    /// <summary>api.openai.com (or a proxy of it): bearer key.</summary>
    OpenAI,
    /// <summary>Azure OpenAI's v1 endpoint (https://RESOURCE.openai.azure.com/openai/v1/): the key also goes in the api-key header.</summary>
    AzureOpenAI,
    /// <summary>vLLM, Ollama, LM Studio and other servers speaking the chat completions API; a key is optional.</summary>
    OpenAICompatible,
}

/// <summary>One entry of "Alignment:Providers:&lt;name&gt;". The key never leaves this object: <see cref="ToString"/> redacts it.</summary>
public sealed class ProviderOptions
{
    public Uri? Endpoint { get; set; }
    /// <summary>The API key itself; prefer supplying it through an environment variable or a secret store.</summary>
    public string? ApiKey { get; set; }
    /// <summary>Name of an environment variable holding the key, read when <see cref="ApiKey"/> is empty.</summary>
    public string? ApiKeyEnvironmentVariable { get; set; }
    /// <summary>openai, azure-openai or openai-compatible.</summary>
    public string Kind { get; set; } = "openai-compatible";
    public string? DefaultModel { get; set; }
    /// <summary>When non-empty, every other model is refused.</summary>
    public List<string> AllowedModels { get; set; } = [];
    public int MaxConcurrency { get; set; } = 4;
    /// <summary>0 for no limit.</summary>
    public int RequestsPerMinute { get; set; }
    /// <summary>Per call (one attempt), not per run.</summary>
    public double TimeoutSeconds { get; set; } = 120;
    public int MaxRetries { get; set; } = 4;
    /// <summary>First backoff delay; later ones grow exponentially with jitter.</summary>
    public double RetryBaseDelaySeconds { get; set; } = 2;
    /// <summary>A Retry-After longer than this is cut to it, so a run is never parked for an hour by one header.</summary>
    public double MaxRetryAfterSeconds { get; set; } = 60;
    /// <summary>Share of failing calls (5xx, timeouts, network errors) within the sampling window that opens the breaker.</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;
    public int BreakerMinimumThroughput { get; set; } = 10;
    public double BreakerSamplingSeconds { get; set; } = 60;
    public double BreakerBreakSeconds { get; set; } = 30;

    internal ProviderKind ParsedKind => ParseKind(Kind) ?? ProviderKind.OpenAICompatible;

    internal static ProviderKind? ParseKind(string? kind) => kind?.Trim().ToLowerInvariant() switch
    {
        "openai" => ProviderKind.OpenAI,
        "azure-openai" or "azure" or "azureopenai" => ProviderKind.AzureOpenAI,
        "openai-compatible" or "compatible" or "" or null => ProviderKind.OpenAICompatible,
        _ => null,
    };

    internal string? ResolveApiKey() =>
        !string.IsNullOrWhiteSpace(ApiKey) ? ApiKey
        : !string.IsNullOrWhiteSpace(ApiKeyEnvironmentVariable) ? Environment.GetEnvironmentVariable(ApiKeyEnvironmentVariable)
        : null;

    public override string ToString() =>
        $"Kind={Kind}, Endpoint={Endpoint}, ApiKey={(string.IsNullOrEmpty(ResolveApiKey()) ? "(none)" : "[redacted]")}, "
        + $"DefaultModel={DefaultModel}, AllowedModels=[{string.Join(", ", AllowedModels)}], MaxConcurrency={MaxConcurrency}, "
        + $"RequestsPerMinute={RequestsPerMinute}, TimeoutSeconds={TimeoutSeconds}, MaxRetries={MaxRetries}";
}

/// <summary>Run-level knobs of the LLM reflection and verification ("Alignment:Reflection").</summary>
public sealed class ReflectionOptions
{
    public const string Section = "Alignment:Reflection";

    /// <summary>Prompt tokens of traces per reflection batch (counted with the o200k tokenizer).</summary>
    public int BatchTokenBudget { get; set; } = 6000;
    /// <summary>At most this many batches, the most instructive traces first (the analyzer orders them).</summary>
    public int MaxBatches { get; set; } = 10;
    /// <summary>Tokens (prompt + completion) a run may spend in total; 0 for no limit.</summary>
    public long TokenBudgetPerRun { get; set; }
    /// <summary>Completion tokens requested per call.</summary>
    public int MaxOutputTokens { get; set; } = 2000;
    /// <summary>Extra attempts when the model's structured answer is not valid.</summary>
    public int MaxMalformedAnswerRetries { get; set; } = 2;
    /// <summary>Characters of each row text sent to the model.</summary>
    public int MaxRowTextLength { get; set; } = 1500;
    public int MaxGuidelines { get; set; } = 12;
    public float Temperature { get; set; } = 0.2f;
}

/// <summary>How judge verification splits and samples rows ("Alignment:Verification").</summary>
public sealed class VerificationOptions
{
    public const string Section = "Alignment:Verification";

    public int Seed { get; set; } = 20240601;
    /// <summary>Share of each stratum (disagreeing, agreeing rows) held out from distillation and re-scored.</summary>
    public double HeldOutFraction { get; set; } = 0.3;
    /// <summary>Rows of each stratum the sampler keeps from the stream.</summary>
    public int SamplePerStratum { get; set; } = 100;
    public int MaxOutputTokens { get; set; } = 400;
}
