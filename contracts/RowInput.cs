namespace MetricAlignment.Contracts;

/// <summary>A row's input: either a conversation (<see cref="Messages"/>) or plain text (<see cref="Text"/>).</summary>
public sealed record RowInput
{
    public string? Text { get; init; }
    public IReadOnlyList<ConversationMessage>? Messages { get; init; }
}
