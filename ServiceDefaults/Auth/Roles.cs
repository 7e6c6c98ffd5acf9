namespace MetricAlignment.ServiceDefaults;

/// <summary>The roles a caller's token carries in its <c>role</c> claim (docs/security.md).</summary>
public static class Roles
{
    public const string Viewer = "viewer";
    public const string Annotator = "annotator";
    public const string MetricEditor = "metric-editor";
    public const string Admin = "admin";
    /// <summary>Another service of the platform, acting for the workspace named in its request's X-Workspace header.</summary>
    public const string Service = "service";

    public static readonly IReadOnlyList<string> People = [Viewer, Annotator, MetricEditor, Admin];
}

/// <summary>What an endpoint requires. An admin satisfies every policy; every role may read.</summary>
public static class Policies
{
    /// <summary>See the workspace's metrics, evaluations and runs.</summary>
    public const string Read = "read";
    /// <summary>Add annotations to rows.</summary>
    public const string Annotate = "annotate";
    /// <summary>Resolve a row's annotations into the agreed value.</summary>
    public const string Resolve = "resolve";
    /// <summary>Create metrics and versions, import evaluations, start, cancel, retry, accept and discard runs.</summary>
    public const string Edit = "edit";

    internal static readonly IReadOnlyDictionary<string, string[]> AllowedRoles = new Dictionary<string, string[]>
    {
        [Read] = [Roles.Viewer, Roles.Annotator, Roles.MetricEditor, Roles.Admin, Roles.Service],
        [Annotate] = [Roles.Annotator, Roles.Admin],
        [Resolve] = [Roles.Admin],
        [Edit] = [Roles.MetricEditor, Roles.Admin],
    };
}
