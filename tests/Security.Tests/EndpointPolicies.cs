using MetricAlignment.ServiceDefaults;

namespace MetricAlignment.Security.Tests;

/// <summary>Which roles a write endpoint must refuse (403) and which it must let through (docs/security.md).</summary>
public sealed record WriteRule(string Policy, string[] Refused, string[] Allowed);

/// <summary>
/// The rules of issue #8 for every write endpoint, by <see cref="ApiEndpoint.Key"/>. A write endpoint missing here fails
/// <c>Every_write_endpoint_has_a_rule_in_this_suite</c>: whoever adds one decides who may call it.
/// </summary>
public static class EndpointPolicies
{
    /// <summary>Create metrics, versions and forks; import and create evaluations; start, cancel, retry, accept, discard runs.</summary>
    static readonly WriteRule Edit = new(Policies.Edit, [Roles.Viewer, Roles.Annotator, Roles.Service], [Roles.MetricEditor, Roles.Admin]);
    static readonly WriteRule Annotate = new(Policies.Annotate, [Roles.Viewer, Roles.MetricEditor, Roles.Service], [Roles.Annotator, Roles.Admin]);
    static readonly WriteRule Resolve = new(Policies.Resolve, [Roles.Viewer, Roles.Annotator, Roles.MetricEditor, Roles.Service], [Roles.Admin]);
    /// <summary>A write the rules give no policy of its own: at least no reader may do it, and an admin may.</summary>
    static readonly WriteRule SomeWriter = new("a write policy", [Roles.Viewer, Roles.Service], [Roles.Admin]);

    public static readonly IReadOnlyDictionary<string, WriteRule> Writes = new Dictionary<string, WriteRule>
    {
        ["Metrics POST /api/metrics"] = Edit,
        ["Metrics POST /api/metrics/{idOrKey}/versions"] = Edit,
        ["Metrics POST /api/metrics/{idOrKey}/fork"] = Edit,
        ["Annotations POST /api/evaluations"] = Edit,
        ["Annotations POST /api/evaluations/import"] = Edit,
        ["Annotations POST /api/evaluations/{id}/complete"] = SomeWriter,
        ["Annotations POST /api/rows/{rowId}/annotations"] = Annotate,
        ["Annotations PUT /api/rows/{rowId}/resolutions/{metric}"] = Resolve,
        ["Alignment POST /api/alignment-runs"] = Edit,
        ["Alignment POST /api/alignment-runs/{id}/cancel"] = Edit,
        ["Alignment POST /api/alignment-runs/{id}/accept"] = Edit,
        ["Alignment POST /api/alignment-runs/{id}/discard"] = Edit,
        ["Alignment POST /api/alignment-runs/{id}/retry"] = Edit,
    };

    /// <summary>Every role reads: the people and the platform's services.</summary>
    public static readonly string[] Readers = [Roles.Viewer, Roles.Annotator, Roles.MetricEditor, Roles.Admin, Roles.Service];
}
