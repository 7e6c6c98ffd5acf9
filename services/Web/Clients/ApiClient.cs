using System.Net.Http.Json;
using System.Text.Json;
using MetricAlignment.Web.Extensions;

namespace MetricAlignment.Web.Clients;

/// <summary>JSON over HTTP with every failure turned into an <see cref="ApiProblem"/> instead of an exception.</summary>
public abstract class ApiClient(HttpClient http, string serviceName)
{
    protected HttpClient Http => http;

    protected Task<ApiResult<T>> GetAsync<T>(string path, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);

    protected Task<ApiResult<T>> PostAsync<T>(string path, object? body, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) }, cancellationToken);

    protected Task<ApiResult<T>> PutAsync<T>(string path, object? body, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Put, path) { Content = Json(body) }, cancellationToken);

    static JsonContent? Json(object? body) => body is null ? null : JsonContent.Create(body, body.GetType(), options: WebFrontEndExtensions.ApiJson);

    async Task<ApiResult<T>> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            try
            {
                using var response = await http.SendAsync(request, cancellationToken);
                if (!response.IsSuccessStatusCode)
                    return ApiResult<T>.Failed(ForAccess(await ReadProblemAsync(response, cancellationToken)));
                var value = await response.Content.ReadFromJsonAsync<T>(WebFrontEndExtensions.ApiJson, cancellationToken);
                return value is null
                    ? ApiResult<T>.Failed(ApiProblem.Unreachable(serviceName, "It answered with an empty body."))
                    : ApiResult<T>.Ok(value);
            }
            catch (HttpRequestException e)
            {
                return ApiResult<T>.Failed(ApiProblem.Unreachable(serviceName, e.Message));
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return ApiResult<T>.Failed(ApiProblem.Unreachable(serviceName, "It did not answer in time."));
            }
            catch (Polly.Timeout.TimeoutRejectedException)
            {
                return ApiResult<T>.Failed(ApiProblem.Unreachable(serviceName, "It did not answer in time."));
            }
            catch (Polly.CircuitBreaker.BrokenCircuitException)
            {
                return ApiResult<T>.Failed(ApiProblem.Unreachable(serviceName, "It failed repeatedly; calls are paused for a few seconds."));
            }
            catch (JsonException e)
            {
                return ApiResult<T>.Failed(new ApiProblem(0, $"The {serviceName} service answered in an unexpected shape", e.Message,
                    new Dictionary<string, string[]>()));
            }
        }
    }

    /// <summary>
    /// 401 and 403 in the words a person needs: the first sends them to sign in again (<see cref="ApiProblem.NeedsSignIn"/>),
    /// the second says their role is the reason, keeping the service's detail when it gives one.
    /// </summary>
    ApiProblem ForAccess(ApiProblem problem) => problem.Status switch
    {
        401 => ApiProblem.SignInExpired,
        403 => problem with
        {
            Title = ApiProblem.RoleRefusedTitle,
            Detail = string.IsNullOrWhiteSpace(problem.Detail) ? $"The {serviceName} service refused it for your role." : problem.Detail,
        },
        _ => problem,
    };

    async Task<ApiProblem> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var fallbackTitle = $"The {serviceName} service answered {status} {response.ReasonPhrase}";
        string body;
        try { body = await response.Content.ReadAsStringAsync(cancellationToken); }
        catch (HttpRequestException) { body = ""; }
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new ApiProblem(status, fallbackTitle, null, new Dictionary<string, string[]>());
            var title = Text(root, "title") ?? fallbackTitle;
            var detail = Text(root, "detail");
            var errors = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("errors", out var errorsElement) && errorsElement.ValueKind == JsonValueKind.Object)
                foreach (var field in errorsElement.EnumerateObject())
                    errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                        ? field.Value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.ToString()).ToArray()
                        : [field.Value.ToString()];
            return new ApiProblem(status, title, detail, errors);
        }
        catch (JsonException)
        {
            var text = body.Length > 300 ? body[..300] + "…" : body;
            return new ApiProblem(status, fallbackTitle, string.IsNullOrWhiteSpace(text) ? null : text, new Dictionary<string, string[]>());
        }
    }

    static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
