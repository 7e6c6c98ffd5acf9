using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class AccessTokenReaderTests
{
    [Fact]
    public void A_token_gives_the_persons_subject_workspace_roles_and_expiry()
    {
        var token = TestTokens.For([Roles.Annotator, Roles.MetricEditor], "globex", "alice", TimeSpan.FromMinutes(30));

        var facts = AccessTokenReader.Read(token, DateTimeOffset.UtcNow, out var reason);

        reason.Should().BeNull();
        facts!.Subject.Should().Be("alice");
        facts.Name.Should().Be("alice");
        facts.Workspace.Should().Be("globex");
        facts.Roles.Should().BeEquivalentTo(Roles.Annotator, Roles.MetricEditor);
        facts.ExpiresAt.Should().BeCloseTo(DateTimeOffset.UtcNow.AddMinutes(30), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void An_expired_token_starts_no_session()
    {
        var token = TestTokens.For([Roles.Admin], "default", "alice", TimeSpan.FromMinutes(10), DateTime.UtcNow.AddHours(-1));

        AccessTokenReader.Read(token, DateTimeOffset.UtcNow, out var reason).Should().BeNull();
        reason.Should().Contain("expired");
    }

    [Fact]
    public void A_token_without_a_workspace_starts_no_session()
    {
        var token = TestTokens.For([Roles.Service], null, "service:x");

        AccessTokenReader.Read(token, DateTimeOffset.UtcNow, out var reason).Should().BeNull();
        reason.Should().Contain("workspace");
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-token")]
    [InlineData(null)]
    public void Something_that_is_not_a_token_is_refused_with_a_reason(string? token)
    {
        AccessTokenReader.Read(token, DateTimeOffset.UtcNow, out var reason).Should().BeNull();
        reason.Should().NotBeNullOrWhiteSpace();
    }
}
