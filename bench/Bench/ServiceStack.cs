// ServiceStack and ServiceProcess live in tests/TestSupport, shared with the tests that kill service processes
// (tests/Faults.Tests); every benchmark file sees them under their old names without a using of its own.
global using MetricAlignment.TestSupport;
