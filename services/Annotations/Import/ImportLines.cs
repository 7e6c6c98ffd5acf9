using System.Text.Json;
using System.Text.Json.Serialization;
using MetricAlignment.Contracts;

namespace MetricAlignment.Annotations.Import;

/// <summary>Line 1 of an import: the evaluation and the metrics its rows are scored on.</summary>
public sealed class ImportHeader
{
    public string? Name { get; set; }
    public string? Status { get; set; }
    public List<ImportHeaderMetric?>? Metrics { get; set; }
}

public sealed class ImportHeaderMetric
{
    /// <summary>The metric's key or id in the Metrics service.</summary>
    public string? Metric { get; set; }
    /// <summary>none (default), median, mean or majority.</summary>
    public string? Resolution { get; set; }
}

/// <summary>Every line after the header: one row, its judge scores and its reviewers' annotations.</summary>
public sealed class ImportRow
{
    public string? ExternalId { get; set; }
    public RowInput? Input { get; set; }
    public string? Output { get; set; }
    public string? Context { get; set; }
    public Dictionary<string, string?>? Tags { get; set; }
    public Dictionary<string, ImportJudgeScore?>? Judge { get; set; }
    public List<ImportAnnotation?>? Annotations { get; set; }
}

public sealed class ImportJudgeScore
{
    public double? Score { get; set; }
    public string? Label { get; set; }
    public string? Explanation { get; set; }
    public string? Model { get; set; }
}

public sealed class ImportAnnotation
{
    public string? Metric { get; set; }
    public string? ReviewerId { get; set; }
    public double? Score { get; set; }
    public string? Label { get; set; }
    public string? Comment { get; set; }
}

/// <summary>A row input is written either as a string (plain text) or as an array of {role, content} messages.</summary>
public sealed class RowInputJsonConverter : JsonConverter<RowInput>
{
    public override RowInput? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return new RowInput { Text = reader.GetString() };
            case JsonTokenType.StartArray:
                var messages = new List<ConversationMessage>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("input messages must be objects with role and content");
                    string? role = null, content = null;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        var name = reader.GetString();
                        reader.Read();
                        if (name == "role" && reader.TokenType == JsonTokenType.String) role = reader.GetString();
                        else if (name == "content" && reader.TokenType == JsonTokenType.String) content = reader.GetString();
                        else reader.Skip();
                    }
                    if (string.IsNullOrEmpty(role) || content is null) throw new JsonException("every input message needs a role and a content string");
                    messages.Add(new ConversationMessage { Role = role, Content = content });
                }
                return new RowInput { Messages = messages };
            case JsonTokenType.StartObject:
                // The shape rows are read back in ({text} or {messages}) is accepted too, so exports re-import.
                string? text = null;
                List<ConversationMessage>? list = null;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var name = reader.GetString();
                    reader.Read();
                    if (name == "text" && reader.TokenType == JsonTokenType.String) text = reader.GetString();
                    else if (name == "messages" && reader.TokenType == JsonTokenType.StartArray) list = Read(ref reader, typeToConvert, options)?.Messages?.ToList();
                    else reader.Skip();
                }
                if ((text is null) == (list is null)) throw new JsonException("input must have either text or messages");
                return new RowInput { Text = text, Messages = list };
            default:
                throw new JsonException("input must be a string or an array of {role, content} messages");
        }
    }

    public override void Write(Utf8JsonWriter writer, RowInput value, JsonSerializerOptions options)
    {
        if (value.Messages is { } messages)
        {
            writer.WriteStartArray();
            foreach (var message in messages)
            {
                writer.WriteStartObject();
                writer.WriteString("role", message.Role);
                writer.WriteString("content", message.Content);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        else writer.WriteStringValue(value.Text);
    }
}
