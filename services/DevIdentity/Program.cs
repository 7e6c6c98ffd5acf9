using MetricAlignment.DevIdentity.Extensions;
using MetricAlignment.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddDevIdentity();

var app = builder.Build();
app.MapDevIdentity();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
