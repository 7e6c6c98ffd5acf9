namespace MetricAlignment.Web.Clients;

/// <summary>
/// A failed call as a person should read it: the service's problem details (title, detail, field errors) or, when the
/// service could not be reached or answered nonsense, a sentence saying so.
/// </summary>
public sealed record ApiProblem(int Status, string Title, string? Detail, IReadOnlyDictionary<string, string[]> Errors)
{
    public const string RoleRefusedTitle = "Your role does not allow this";

    /// <summary>The API refused the session's token (expired, or never valid): the person signs in again.</summary>
    public static readonly ApiProblem SignInExpired = new(401, "Your sign-in has expired", "Sign in again to continue.",
        new Dictionary<string, string[]>());

    public bool NeedsSignIn => Status == 401;

    public static ApiProblem Unreachable(string service, string reason) =>
        new(0, $"The {service} service could not be reached", reason, new Dictionary<string, string[]>());

    /// <summary>One line for a banner: the title, then the detail when it adds something.</summary>
    public string Message => string.IsNullOrWhiteSpace(Detail) || Detail == Title ? Title : $"{Title}: {Detail}";

    /// <summary>Field errors keyed case-insensitively, so "EvaluationIds" and "evaluationIds" are one field.</summary>
    public IReadOnlyList<string> ErrorsFor(string field) =>
        Errors.Where(e => string.Equals(e.Key, field, StringComparison.OrdinalIgnoreCase)).SelectMany(e => e.Value).ToList();

    /// <summary>Field errors no form field shows, so that none is lost.</summary>
    public IReadOnlyList<string> ErrorsExcept(params string[] fields) =>
        Errors.Where(e => !fields.Contains(e.Key, StringComparer.OrdinalIgnoreCase)).SelectMany(e => e.Value).ToList();
}

public sealed record ApiResult<T>
{
    public T? Value { get; init; }
    public ApiProblem? Problem { get; init; }
    public bool Succeeded => Problem is null;

    public static ApiResult<T> Ok(T value) => new() { Value = value };
    public static ApiResult<T> Failed(ApiProblem problem) => new() { Problem = problem };
}
