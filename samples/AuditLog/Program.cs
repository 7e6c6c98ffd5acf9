using MetricAlignment.AuditLog.Extensions;
using MetricAlignment.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApiDefaults();
builder.AddAuditLog();

var app = builder.Build();
app.UseApiDefaults();
app.MapAuditLogApi();
app.Run();

public partial class Program;
