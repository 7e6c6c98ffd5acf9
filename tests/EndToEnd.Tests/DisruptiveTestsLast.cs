using Xunit.Abstractions;
using Xunit.Sdk;

namespace MetricAlignment.EndToEnd.Tests;

/// <summary>Marks a test that leaves the shared app changed (e.g. a replica killed), so it runs after the others.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DisruptsTheAppAttribute : Attribute;

public sealed class DisruptiveTestsLastOrderer : ITestCaseOrderer
{
    public const string TypeName = "MetricAlignment.EndToEnd.Tests.DisruptiveTestsLastOrderer";
    public const string AssemblyName = "MetricAlignment.EndToEnd.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases) where TTestCase : ITestCase =>
        testCases
            .OrderBy(test => test.TestMethod.Method.GetCustomAttributes(typeof(DisruptsTheAppAttribute).AssemblyQualifiedName).Any())
            .ThenBy(test => test.TestMethod.Method.Name, StringComparer.Ordinal);
}
