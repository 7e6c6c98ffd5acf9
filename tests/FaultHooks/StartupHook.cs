using MetricAlignment.FaultHooks;

/// <summary>
/// The entry point the runtime calls before Main when this assembly is named in <c>DOTNET_STARTUP_HOOKS</c>; the runtime
/// requires exactly this type name, in no namespace.
/// </summary>
public static class StartupHook
{
    public static void Initialize() => FaultHold.InstallFromEnvironment();
}
