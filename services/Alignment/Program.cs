using MetricAlignment.Alignment.Extensions;
using MetricAlignment.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApiDefaults();
builder.AddAlignmentService();

var app = builder.Build();
app.UseApiDefaults();
app.MapAlignmentApi();
app.Run();

public partial class Program;
