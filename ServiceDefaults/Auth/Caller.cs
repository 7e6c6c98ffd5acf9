using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace MetricAlignment.ServiceDefaults;

/// <summary>
/// Who is calling and for which workspace. A person's workspace is the one their token names; a platform service's is
/// the one its request names in <see cref="WorkspaceHeader"/>. Endpoints take it as a parameter; the authorization
/// policies have already refused a request that names no workspace.
/// </summary>
public sealed record Caller(string Workspace, string Subject, IReadOnlySet<string> Roles)
{
    public const string WorkspaceClaim = "workspace";
    public const string RoleClaim = "role";
    public const string SubjectClaim = "sub";
    public const string WorkspaceHeader = "X-Workspace";

    public bool IsService => Roles.Contains(ServiceDefaults.Roles.Service);

    public bool Can(string policy) =>
        Roles.Contains(ServiceDefaults.Roles.Admin) || Policies.AllowedRoles[policy].Any(Roles.Contains);

    public static ValueTask<Caller?> BindAsync(HttpContext context) => ValueTask.FromResult(From(context));

    public static Caller? From(HttpContext context)
    {
        // Read once per request: the authorization policy and the endpoint's parameter both ask.
        if (context.Items.TryGetValue(typeof(Caller), out var known) && known is Caller caller) return caller;
        var user = context.User;
        if (user.Identity?.IsAuthenticated != true) return null;
        var roles = user.FindAll(RoleClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        var workspace = WorkspaceOf(user, roles, context.Request);
        if (workspace is null) return null;
        caller = new Caller(workspace, user.FindFirstValue(SubjectClaim) ?? "unknown", roles);
        context.Items[typeof(Caller)] = caller;
        return caller;
    }

    internal static string? WorkspaceOf(ClaimsPrincipal user, IReadOnlySet<string> roles, HttpRequest request)
    {
        var workspace = roles.Contains(ServiceDefaults.Roles.Service)
            ? request.Headers[WorkspaceHeader].ToString()
            : user.FindFirstValue(WorkspaceClaim);
        return IsValidWorkspace(workspace) ? workspace : null;
    }

    /// <summary>A workspace is a slug: 1-64 of a-z, 0-9, '-' and '_'.</summary>
    public static bool IsValidWorkspace(string? workspace) =>
        !string.IsNullOrEmpty(workspace) && workspace.Length <= 64
        && workspace.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_');
}
