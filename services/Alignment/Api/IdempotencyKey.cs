using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MetricAlignment.Alignment.Api;

/// <summary>
/// The Idempotency-Key request header (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): a Structured Field
/// string such as <c>"8e03978e-40d5-43e8-bc93-6894a57f9324"</c>. The bare form without quotes, which many clients send,
/// is accepted as well.
/// </summary>
public static class IdempotencyKey
{
    public const string HeaderName = "Idempotency-Key";
    /// <summary>Set to "true" on a response that answers a repeated key with the run of its first request.</summary>
    public const string ReplayedHeaderName = "Idempotent-Replayed";
    public const int MaxLength = 255;

    /// <summary>The key, or null without the header; <c>Error</c> says why a header given is unusable.</summary>
    public static (string? Key, string? Error) Read(IHeaderDictionary headers)
    {
        if (!headers.TryGetValue(HeaderName, out var values)) return (null, null);
        if (values.Count != 1) return (null, $"Send one {HeaderName} header, not {values.Count}.");
        var raw = values[0]!.Trim();
        var key = raw;
        if (raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"')
        {
            key = Unquote(raw[1..^1]);
            if (key is null) return (null, $"The {HeaderName} is a quoted string with a stray quote or backslash; escape them as \\\" and \\\\.");
        }
        if (key.Length == 0) return (null, $"The {HeaderName} is empty.");
        if (key.Length > MaxLength) return (null, $"The {HeaderName} has {key.Length} characters; at most {MaxLength} are allowed. A UUID is a good key.");
        if (key.Any(c => c is < ' ' or > '~'))
            return (null, $"The {HeaderName} may hold printable ASCII characters only (space to ~). A UUID is a good key.");
        return (key, null);
    }

    /// <summary>An sf-string's content: only \" and \\ are escapes; null when it is malformed.</summary>
    static string? Unquote(string quoted)
    {
        var text = new StringBuilder(quoted.Length);
        for (var i = 0; i < quoted.Length; i++)
        {
            var c = quoted[i];
            if (c == '"') return null;
            if (c == '\\')
            {
                if (++i == quoted.Length || quoted[i] is not ('"' or '\\')) return null;
                c = quoted[i];
            }
            text.Append(c);
        }
        return text.ToString();
    }

    /// <summary>
    /// The request as the endpoint understood it, hashed: bodies that differ only in spacing, property order or the
    /// case of property names are the same request; any value that differs makes another one.
    /// </summary>
    public static string Fingerprint(StartAlignmentRunRequest request) =>
        Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request, FingerprintJson)));

    // Fixed here rather than taken from the app's JSON options: a stored fingerprint must not change with them.
    static readonly JsonSerializerOptions FingerprintJson = new(JsonSerializerDefaults.Web);
}
