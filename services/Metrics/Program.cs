using MetricAlignment.Metrics.Extensions;
using MetricAlignment.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApiDefaults();
builder.AddMetricsService();

var app = builder.Build();
app.UseApiDefaults();
app.MapMetricsApi();
app.Run();

public partial class Program;
