namespace MetricAlignment.Contracts;

public sealed record ConversationMessage
{
    /// <summary>system, user, assistant or tool.</summary>
    public required string Role { get; init; }
    public required string Content { get; init; }
}
