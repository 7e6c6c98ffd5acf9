using MetricAlignment.ServiceDefaults;
using MetricAlignment.Web.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWebFrontEnd();

var app = builder.Build();
app.UseWebFrontEnd();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
