using MetricAlignment.Annotations.Extensions;
using MetricAlignment.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApiDefaults();
builder.AddAnnotationsService();

var app = builder.Build();
app.UseApiDefaults();
app.MapAnnotationsApi();
app.Run();

public partial class Program;
