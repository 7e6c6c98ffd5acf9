using k8s.Models;

namespace MetricAlignment.Deployment.Tests;

/// <summary>The images the SDK builds (services/Directory.Build.props) and the pods that run them agree.</summary>
[Collection(RenderedOverlaysCollection.Name)]
public sealed class ContainerImageTests(ContainerSettings containers, RenderedOverlays overlays)
{
    public static TheoryData<string> Services => [.. SourceFacts.Services.Select(s => s.Name)];

    [Fact]
    public void The_three_services_are_found_as_web_projects()
    {
        SourceFacts.Services.Select(s => s.Name).Should().Contain(["alignment", "annotations", "metrics"]);
    }

    [Theory, MemberData(nameof(Services))]
    public void The_image_is_named_after_the_service_and_is_the_image_the_deployment_runs(string service)
    {
        var repository = containers.ByService[service].Property("ContainerRepository");

        repository.Should().Be($"metric-alignment/{service}");
        overlays["base"].Deployment(service).Spec.Template.Spec.Containers.Single().Image.Should().Be(repository);
    }

    [Theory, MemberData(nameof(Services))]
    public void The_image_runs_as_the_numeric_non_root_user_that_the_pods_require(string service)
    {
        var user = containers.ByService[service].Property("ContainerUser");

        // runAsNonRoot can only be verified by the kubelet for a numeric user.
        long.TryParse(user, out var uid).Should().BeTrue($"ContainerUser '{user}' must be numeric");
        uid.Should().BeGreaterThan(0);
        foreach (var rendered in overlays.All.Values)
            rendered.Deployment(service).Spec.Template.Spec.SecurityContext.RunAsUser.Should().Be(uid, rendered.Name);
    }

    [Theory, MemberData(nameof(Services))]
    public void The_port_the_image_exposes_is_the_port_it_listens_on_and_the_port_the_probes_call(string service)
    {
        var settings = containers.ByService[service];
        var exposed = settings.Item("ContainerPort").Should().ContainSingle().Subject;
        var port = int.Parse(exposed.Identity);

        settings.Item("ContainerEnvironmentVariable").Should().ContainSingle(v => v.Identity == "ASPNETCORE_HTTP_PORTS")
            .Which.Value.Should().Be(exposed.Identity);
        foreach (var rendered in overlays.All.Values)
        {
            var container = rendered.Deployment(service).Spec.Template.Spec.Containers.Single();
            foreach (var probe in new[] { container.StartupProbe, container.ReadinessProbe, container.LivenessProbe })
                ResolvePort(container, probe.HttpGet.Port).Should().Be(port, $"{rendered.Name}/{service}");
        }
    }

    [Theory, MemberData(nameof(Services))]
    public void The_image_is_built_on_the_dotnet_10_aspnet_runtime_with_version_tags_and_source_labels(string service)
    {
        var settings = containers.ByService[service];

        settings.Property("ContainerBaseImage").Should().StartWith("mcr.microsoft.com/dotnet/aspnet:10.0");
        settings.Property("ContainerImageTags").Split(';').Should().Contain(settings.Property("Version"));
        settings.Item("ContainerLabel").Select(l => l.Identity).Should()
            .Contain(["org.opencontainers.image.source", "org.opencontainers.image.version"]);
        settings.Item("ContainerLabel").Should().OnlyContain(l => !string.IsNullOrWhiteSpace(l.Value));
    }

    [Theory, MemberData(nameof(Services))]
    public void The_service_project_keeps_the_repository_wide_build_settings(string service)
    {
        // services/Directory.Build.props would otherwise hide the root one.
        var settings = containers.ByService[service];

        settings.Property("TreatWarningsAsErrors").Should().Be("true");
        settings.Property("TargetFramework").Should().Be("net10.0");
        settings.Property("EnableSdkContainerSupport").Should().Be("true");
    }

    internal static int ResolvePort(V1Container container, IntOrString port) =>
        int.TryParse(port.Value, out var number)
            ? number
            : container.Ports.Single(p => p.Name == port.Value).ContainerPort;
}
