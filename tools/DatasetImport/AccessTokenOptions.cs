using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace MetricAlignment.Tools;

/// <summary>
/// How a command-line tool obtains the bearer token every API requires: a token given as is (--token, or the MA_TOKEN
/// environment variable), or one issued for a user by the OAuth 2.0 password grant (--user, --password, --token-endpoint;
/// the development issuer by default). Shared by tools/DatasetImport and tools/Demo (linked source).
/// </summary>
public sealed class AccessTokenOptions
{
    public const string TokenVariable = "MA_TOKEN";
    public const string PasswordVariable = "MA_PASSWORD";
    /// <summary>services/DevIdentity's port (its launchSettings.json and the AppHost).</summary>
    public const string DefaultTokenEndpoint = "http://127.0.0.1:5105/connect/token";
    public const string Usage =
        "--token <jwt> (or env MA_TOKEN) | --user <name> --password <pw> (or env MA_PASSWORD) [--token-endpoint <url>, default " + DefaultTokenEndpoint + "]";

    public string? Token { get; set; }
    public string? User { get; set; }
    public string? Password { get; set; }
    public string TokenEndpoint { get; set; } = DefaultTokenEndpoint;

    /// <summary>
    /// Takes the option at args[index] (and its value) when it is one of ours, moving index past the value; false
    /// leaves index alone.
    /// </summary>
    public bool TryRead(string[] args, ref int index)
    {
        if (index + 1 >= args.Length) return false;
        var value = args[index + 1];
        switch (args[index])
        {
            case "--token": Token = value; break;
            case "--user": User = value; break;
            case "--password": Password = value; break;
            case "--token-endpoint": TokenEndpoint = value; break;
            default: return false;
        }
        index++;
        return true;
    }

    /// <summary>Reads our options from anywhere in args, for tools that look their arguments up by name.</summary>
    public static AccessTokenOptions From(string[] args)
    {
        var options = new AccessTokenOptions();
        for (var i = 0; i < args.Length; i++) options.TryRead(args, ref i);
        return options;
    }

    /// <summary>What is wrong with the options, or null when a token can be obtained.</summary>
    public string? Problem(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (User is not null && string.IsNullOrEmpty(Password ?? environment(PasswordVariable)))
            return $"--user needs --password (or env {PasswordVariable})";
        if (User is null && Password is not null) return "--password needs --user";
        if (User is not null && !Uri.TryCreate(TokenEndpoint, UriKind.Absolute, out _)) return $"--token-endpoint '{TokenEndpoint}' is not an absolute URL";
        if (string.IsNullOrWhiteSpace(Token) && User is null && string.IsNullOrWhiteSpace(environment(TokenVariable)))
            return $"the APIs need a bearer token: pass {Usage}";
        return null;
    }

    /// <summary>
    /// The token: --token first, then the password grant for --user, then MA_TOKEN (explicit options win over the
    /// environment). Throws <see cref="HttpRequestException"/> when the issuer refuses the user.
    /// </summary>
    public async Task<string> GetTokenAsync(HttpClient http, CancellationToken ct, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(Token)) return Token.Trim();
        if (User is not null)
        {
            using var response = await http.PostAsync(TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password",
                ["username"] = User,
                ["password"] = Password ?? environment(PasswordVariable) ?? "",
            }), ct);
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException(
                    $"The token endpoint {TokenEndpoint} refused user '{User}' ({(int)response.StatusCode}): {await ErrorOf(response, ct)}",
                    null, response.StatusCode);
            var issued = await response.Content.ReadFromJsonAsync<TokenResponse>(ct);
            return string.IsNullOrWhiteSpace(issued?.AccessToken)
                ? throw new HttpRequestException($"The token endpoint {TokenEndpoint} answered without an access_token.")
                : issued.AccessToken;
        }
        var fromEnvironment = environment(TokenVariable);
        return string.IsNullOrWhiteSpace(fromEnvironment)
            ? throw new InvalidOperationException($"No token: pass {Usage}")
            : fromEnvironment.Trim();
    }

    /// <summary>Gets the token and makes every request of the clients carry it.</summary>
    public async Task<string> AuthorizeAsync(CancellationToken ct, params HttpClient[] clients)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var token = await GetTokenAsync(http, ct);
        foreach (var client in clients) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return token;
    }

    /// <summary>
    /// The token's claim, read without validating it (the APIs validate): for telling the user who they act as. Null
    /// when the token is not a readable JWT.
    /// </summary>
    public static string? Claim(string token, string claim)
    {
        var parts = token.Split('.');
        if (parts.Length != 3) return null;
        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
            var node = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)))?[claim];
            return node switch
            {
                JsonArray array => string.Join(",", array.Select(item => item?.ToString())),
                null => null,
                _ => node.ToString(),
            };
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    static async Task<string> ErrorOf(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        try
        {
            var error = JsonNode.Parse(body);
            var description = error?["error_description"]?.ToString() ?? error?["detail"]?.ToString();
            return description is null ? body : $"{error?["error"]}: {description}";
        }
        catch (System.Text.Json.JsonException)
        {
            return body;
        }
    }

    sealed record TokenResponse([property: JsonPropertyName("access_token")] string? AccessToken);
}
