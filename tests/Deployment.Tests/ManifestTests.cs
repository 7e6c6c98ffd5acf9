using System.Text.RegularExpressions;
using k8s.Models;
using MetricAlignment.TestSupport;
using MetricAlignment.Web.Extensions;

namespace MetricAlignment.Deployment.Tests;

/// <summary>The rendered base and overlays (what `kubectl apply -k` would send), checked against the services' code.</summary>
[Collection(RenderedOverlaysCollection.Name)]
public sealed partial class ManifestTests(RenderedOverlays overlays)
{
    public static TheoryData<string> Renderings => ["base", "dev", "production"];

    [Theory, MemberData(nameof(Renderings))]
    public void Every_service_project_has_a_deployment_a_service_and_a_disruption_budget(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var service in SourceFacts.Services)
        {
            rendered.Deployments.Should().ContainSingle(d => d.Metadata.Name == service.Name, service.Name);
            rendered.Services.Should().ContainSingle(s => s.Metadata.Name == service.Name, service.Name);
            rendered.DisruptionBudgets.Should().ContainSingle(p => p.Metadata.Name == service.Name, service.Name);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Probes_call_health_for_readiness_and_alive_for_liveness_and_startup(string rendering)
    {
        foreach (var deployment in overlays[rendering].Deployments)
        {
            var container = deployment.Spec.Template.Spec.Containers.Single();
            container.ReadinessProbe.HttpGet.Path.Should().Be(SourceFacts.HealthPath, deployment.Metadata.Name);
            container.LivenessProbe.HttpGet.Path.Should().Be(SourceFacts.AlivePath, deployment.Metadata.Name);
            container.StartupProbe.HttpGet.Path.Should().Be(SourceFacts.AlivePath, deployment.Metadata.Name);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void The_startup_probe_allows_for_the_bus_to_start_before_liveness_counts(string rendering)
    {
        foreach (var deployment in overlays[rendering].Deployments)
        {
            var startup = deployment.Spec.Template.Spec.Containers.Single().StartupProbe;
            var budget = TimeSpan.FromSeconds((startup.PeriodSeconds ?? 10) * (startup.FailureThreshold ?? 3));

            // Migrations wait for the advisory lock and the bus may take its whole StartTimeout on a slow broker.
            budget.Should().BeGreaterThan(SourceFacts.BusStartTimeout * 2, deployment.Metadata.Name);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Each_service_gets_the_connection_strings_its_code_reads_from_a_secret(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var service in SourceFacts.Services)
        {
            var needed = service.Databases.Select(db => $"ConnectionStrings__{db}").ToList();
            if (service.UsesMessageBus) needed.Add($"ConnectionStrings__{SourceFacts.MessagingConnectionName}");
            var environment = rendered.Environment(rendered.Deployment(service.Name).Spec.Template.Spec.Containers.Single());

            foreach (var name in needed)
            {
                environment.Should().ContainKey(name, $"{service.Name} reads it");
                environment[name].Kind.Should().Be("Secret", $"{name} carries credentials");
                environment[name].Value.Should().NotBeNullOrWhiteSpace($"{rendering}/{service.Name}/{name}");
            }
        }
        SourceFacts.Services.Should().Contain(s => s.Databases.Count > 0 && s.UsesMessageBus, "the source scan found the databases and the bus");
    }

    [Theory, MemberData(nameof(Renderings))]
    public void A_service_sees_no_other_services_database_credentials(string rendering)
    {
        var rendered = overlays[rendering];
        var allDatabases = SourceFacts.Services.SelectMany(s => s.Databases).ToList();
        foreach (var service in SourceFacts.Services)
        {
            var environment = rendered.Environment(rendered.Deployment(service.Name).Spec.Template.Spec.Containers.Single());
            var foreign = allDatabases.Except(service.Databases).Select(db => $"ConnectionStrings__{db}");
            environment.Keys.Should().NotContain(foreign, service.Name);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Every_secret_and_config_map_reference_points_to_a_key_that_exists(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var deployment in rendered.Deployments)
        foreach (var container in deployment.Spec.Template.Spec.Containers)
        {
            foreach (var variable in container.Env ?? [])
            {
                if (variable.ValueFrom?.SecretKeyRef is { } secretRef && secretRef.Optional != true)
                    rendered.Secrets.Should().ContainSingle(s => s.Metadata.Name == secretRef.Name)
                        .Which.Data.Should().ContainKey(secretRef.Key, $"{deployment.Metadata.Name}: {variable.Name}");
                if (variable.ValueFrom?.ConfigMapKeyRef is { } configRef && configRef.Optional != true)
                    rendered.ConfigMaps.Should().ContainSingle(c => c.Metadata.Name == configRef.Name)
                        .Which.Data.Should().ContainKey(configRef.Key, $"{deployment.Metadata.Name}: {variable.Name}");
            }
            foreach (var source in container.EnvFrom ?? [])
            {
                if (source.SecretRef is { Optional: not true } secret)
                    rendered.Secrets.Should().ContainSingle(s => s.Metadata.Name == secret.Name, deployment.Metadata.Name);
                if (source.ConfigMapRef is { Optional: not true } configMap)
                    rendered.ConfigMaps.Should().ContainSingle(c => c.Metadata.Name == configMap.Name, deployment.Metadata.Name);
            }
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Every_service_address_the_code_calls_is_configured_to_a_service_that_exists(string rendering)
    {
        var rendered = overlays[rendering];
        var names = SourceFacts.Services.Select(s => s.Name).ToHashSet();
        foreach (var service in SourceFacts.Services)
        {
            var environment = rendered.Environment(rendered.Deployment(service.Name).Spec.Template.Spec.Containers.Single());
            foreach (var called in CalledServices(service).Where(names.Contains))
            {
                var key = $"services__{called}__http__0";
                environment.Should().ContainKey(key, $"{service.Name} calls http://{called}");
                var address = new Uri(environment[key].Value!);
                address.Host.Should().Be(called);
                rendered.Services.Single(s => s.Metadata.Name == called).Spec.Ports.Select(p => p.Port)
                    .Should().Contain(address.Port, $"{key} = {address}");
            }
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void The_shared_configuration_carries_the_telemetry_endpoint_and_the_queue_type(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var deployment in rendered.Deployments)
        {
            var environment = rendered.Environment(deployment.Spec.Template.Spec.Containers.Single());
            environment.Should().ContainKey("OTEL_EXPORTER_OTLP_ENDPOINT").WhoseValue.Kind.Should().Be("ConfigMap");
            environment.Should().ContainKey("Messaging__QuorumQueues").WhoseValue.Value.Should().BeOneOf("true", "false");
            environment.Should().ContainKey("OTEL_SERVICE_NAME").WhoseValue.Value.Should().Be(deployment.Metadata.Name);
        }
    }

    [Fact]
    public void Production_uses_quorum_queues()
    {
        overlays["production"].ConfigMaps.Single(c => c.Metadata.Name.StartsWith("metric-alignment-config-"))
            .Data["Messaging__QuorumQueues"].Should().Be("true");
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Services_and_disruption_budgets_select_exactly_the_pods_of_their_deployment(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var deployment in rendered.Deployments)
        {
            var name = deployment.Metadata.Name;
            var service = rendered.Services.Single(s => s.Metadata.Name == name);
            var budget = rendered.DisruptionBudgets.Single(p => p.Metadata.Name == name);

            var selects = rendered.Deployments.Where(d => Selects(service.Spec.Selector, d)).Select(d => d.Metadata.Name);
            selects.Should().Equal([name], $"Service {name}");
            budget.Spec.Selector.MatchExpressions.Should().BeNullOrEmpty();
            rendered.Deployments.Where(d => Selects(budget.Spec.Selector.MatchLabels, d)).Select(d => d.Metadata.Name)
                .Should().Equal([name], $"PodDisruptionBudget {name}");
            Selects(deployment.Spec.Selector.MatchLabels, deployment).Should().BeTrue($"{name}'s own selector");

            var targetPort = service.Spec.Ports.Single().TargetPort;
            ContainerImageTests.ResolvePort(deployment.Spec.Template.Spec.Containers.Single(), targetPort).Should().Be(8080);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void A_disruption_budget_never_blocks_a_node_drain(string rendering)
    {
        // minAvailable equal to the replica count (one pod in dev) would refuse every eviction.
        foreach (var budget in overlays[rendering].DisruptionBudgets)
        {
            budget.Spec.MinAvailable.Should().BeNull(budget.Metadata.Name);
            budget.Spec.MaxUnavailable.Value.Should().Be("1", budget.Metadata.Name);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void The_autoscaler_targets_the_alignment_deployment_which_leaves_the_replica_count_to_it(string rendering)
    {
        var rendered = overlays[rendering];
        var autoscaler = rendered.Autoscalers.Should().ContainSingle().Subject;

        autoscaler.Spec.ScaleTargetRef.Kind.Should().Be("Deployment");
        autoscaler.Spec.ScaleTargetRef.ApiVersion.Should().Be("apps/v1");
        autoscaler.Spec.ScaleTargetRef.Name.Should().Be("alignment");
        rendered.Deployment("alignment").Spec.Replicas.Should().BeNull("a fixed count would be re-applied over the autoscaler's");
        autoscaler.Spec.MinReplicas.Should().BeGreaterThanOrEqualTo(1).And.BeLessThanOrEqualTo(autoscaler.Spec.MaxReplicas);
        autoscaler.Spec.Metrics.Should().Contain(m => m.Resource != null && m.Resource.Name == "cpu");
        // Utilisation is a share of the request: without one the autoscaler cannot compute it.
        rendered.Deployment("alignment").Spec.Template.Spec.Containers.Single().Resources.Requests.Should().ContainKey("cpu");
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Every_container_has_cpu_and_memory_requests_within_its_limits(string rendering)
    {
        foreach (var deployment in overlays[rendering].Deployments)
        foreach (var container in deployment.Spec.Template.Spec.Containers)
        foreach (var resource in new[] { "cpu", "memory" })
        {
            var because = $"{deployment.Metadata.Name}: {resource}";
            container.Resources.Requests.Should().ContainKey(resource, because);
            container.Resources.Limits.Should().ContainKey(resource, because);
            container.Resources.Requests[resource].ToDecimal().Should()
                .BePositive(because).And.BeLessThanOrEqualTo(container.Resources.Limits[resource].ToDecimal(), because);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Pods_meet_the_restricted_pod_security_standard_with_a_read_only_root_filesystem(string rendering)
    {
        foreach (var deployment in overlays[rendering].Deployments)
        {
            var pod = deployment.Spec.Template.Spec;
            var because = deployment.Metadata.Name;
            pod.SecurityContext.RunAsNonRoot.Should().BeTrue(because);
            pod.SecurityContext.SeccompProfile.Type.Should().Be("RuntimeDefault", because);
            pod.AutomountServiceAccountToken.Should().BeFalse(because);
            foreach (var container in pod.Containers)
            {
                container.SecurityContext.AllowPrivilegeEscalation.Should().BeFalse(because);
                container.SecurityContext.ReadOnlyRootFilesystem.Should().BeTrue(because);
                container.SecurityContext.Capabilities.Drop.Should().Equal(["ALL"], because);
                var tmp = container.VolumeMounts.Should().ContainSingle(m => m.MountPath == "/tmp", because).Subject;
                pod.Volumes.Should().ContainSingle(v => v.Name == tmp.Name).Which.EmptyDir.Should().NotBeNull(because);
            }
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Shutdown_drains_endpoints_then_stops_the_host_within_the_grace_period(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var deployment in rendered.Deployments)
        {
            var container = deployment.Spec.Template.Spec.Containers.Single();
            var pause = container.Lifecycle.PreStop.Sleep.Seconds;
            var hostShutdown = long.Parse(rendered.Environment(container)["DOTNET_SHUTDOWNTIMEOUTSECONDS"].Value!);
            var grace = deployment.Spec.Template.Spec.TerminationGracePeriodSeconds;

            pause.Should().BeInRange(5, 30, deployment.Metadata.Name);
            // The host must give the bus its whole stop timeout, and all of it must end before SIGKILL.
            hostShutdown.Should().BeGreaterThanOrEqualTo((long)SourceFacts.BusStopTimeout.TotalSeconds, deployment.Metadata.Name);
            (pause + hostShutdown).Should().BeLessThan(grace!.Value, deployment.Metadata.Name);
            // A chiseled image has no shell: an exec hook would fail and skip the pause.
            container.Lifecycle.PreStop.Exec.Should().BeNull(deployment.Metadata.Name);
        }
    }

    [Theory, MemberData(nameof(Renderings))]
    public void The_web_replicas_keep_their_session_keys_on_one_writable_volume_they_all_mount(string rendering)
    {
        var rendered = overlays[rendering];
        var web = rendered.Deployment("web");
        var pod = web.Spec.Template.Spec;
        var container = pod.Containers.Single();
        var keyRingVariable = WebFrontEndExtensions.KeyRingPathKey.Replace(":", "__");

        var keyRingPath = rendered.Environment(container).Should().ContainKey(keyRingVariable).WhoseValue.Value;
        var mount = container.VolumeMounts.Should().ContainSingle(m => m.MountPath == keyRingPath, rendering).Subject;
        mount.ReadOnlyProperty.Should().NotBe(true, "new keys are written there every 90 days");
        var volume = pod.Volumes.Should().ContainSingle(v => v.Name == mount.Name).Subject;
        volume.PersistentVolumeClaim.Should().NotBeNull("an emptyDir would give each pod keys of its own");
        var claim = rendered.PersistentVolumeClaims.Should().ContainSingle(c => c.Metadata.Name == volume.PersistentVolumeClaim.ClaimName).Subject;
        if ((web.Spec.Replicas ?? 1) > 1)
            claim.Spec.AccessModes.Should().Contain("ReadWriteMany", $"{rendering}: {web.Spec.Replicas} replicas may run on different nodes");
        // The volume's files belong to the pod's group, so the non-root app user can write the keys.
        pod.SecurityContext.FsGroup.Should().Be(pod.SecurityContext.RunAsGroup);
    }

    [Fact]
    public void Production_runs_pinned_versions_from_a_registry_with_several_pods_per_api()
    {
        var production = overlays["production"];
        foreach (var deployment in production.Deployments)
        {
            var image = deployment.Spec.Template.Spec.Containers.Single().Image;
            var tag = image[(image.LastIndexOf(':') + 1)..];
            image.Should().Contain("/").And.Contain(":", deployment.Metadata.Name);
            image.Split('/')[0].Should().Contain(".", "the registry host comes first");
            tag.Should().NotBe("latest").And.NotContain("/");
            if (deployment.Metadata.Name != "alignment")
                deployment.Spec.Replicas.Should().BeGreaterThanOrEqualTo(2, deployment.Metadata.Name);
        }
        production.Objects.OfType<V1Namespace>().Should().ContainSingle()
            .Which.Metadata.Labels.Should().Contain("pod-security.kubernetes.io/enforce", "restricted");
        production.Objects.OfType<V1Namespace>().Single().Metadata.Name.Should().Be(production.Deployments.First().Metadata.NamespaceProperty);
    }

    [Fact]
    public void Production_carries_none_of_the_base_placeholder_credentials()
    {
        foreach (var secret in overlays["production"].Secrets)
        foreach (var (key, value) in secret.Data ?? new Dictionary<string, byte[]>())
            System.Text.Encoding.UTF8.GetString(value).Should().NotContain("change-me", $"{secret.Metadata.Name}/{key}");
        overlays["base"].Secrets.SelectMany(s => s.Data?.Values ?? []).Select(v => System.Text.Encoding.UTF8.GetString(v))
            .Should().Contain(v => v.Contains("change-me"), "the base's placeholders are what production must replace");
    }

    [Theory, MemberData(nameof(Renderings))]
    public void Database_and_broker_are_external_services_not_deployed_here(string rendering)
    {
        var rendered = overlays[rendering];
        foreach (var name in new[] { "postgres", "rabbitmq" })
        {
            var service = rendered.Services.Should().ContainSingle(s => s.Metadata.Name == name).Subject;
            service.Spec.Type.Should().Be("ExternalName");
            service.Spec.ExternalName.Should().Contain(".");
        }
        rendered.Objects.OfType<V1StatefulSet>().Should().BeEmpty();
    }

    static IEnumerable<string> CalledServices(ServiceProject service) =>
        Directory.GetFiles(Path.GetDirectoryName(service.ProjectPath)!, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => ServiceAddress().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Distinct();

    static bool Selects(V1LabelSelector selector, V1Deployment deployment) =>
        selector.MatchExpressions is null or { Count: 0 } && Selects(selector.MatchLabels, deployment);

    static bool Selects(IDictionary<string, string> selector, V1Deployment deployment) =>
        selector.Count > 0 && selector.All(label =>
            deployment.Spec.Template.Metadata.Labels.TryGetValue(label.Key, out var value) && value == label.Value);

    [GeneratedRegex(@"""http://([a-z][a-z0-9-]*)/?""")]
    private static partial Regex ServiceAddress();
}
