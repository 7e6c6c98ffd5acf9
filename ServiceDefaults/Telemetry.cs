using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MetricAlignment.ServiceDefaults;

/// <summary>The project's own activity source and meter, registered with OpenTelemetry by every service.</summary>
public static class Telemetry
{
    public const string ActivitySourceName = "MetricAlignment";
    public const string MeterName = "MetricAlignment";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);
}
