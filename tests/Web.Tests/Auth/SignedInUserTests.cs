using MetricAlignment.ServiceDefaults;
using MetricAlignment.TestSupport;
using MetricAlignment.Web.Auth;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Auth;

public sealed class SignedInUserTests
{
    static SignedInUser UserWith(params string[] roles)
    {
        var token = TestTokens.For(roles, "default", "alice");
        return SignedInUser.From(AccessTokenReader.Read(token, DateTimeOffset.UtcNow, out _)!, token);
    }

    [Fact]
    public void The_session_cookies_principal_gives_back_the_same_person_and_token()
    {
        var user = UserWith(Roles.Annotator);

        var again = SignedInUser.From(user.ToPrincipal());

        again.Should().NotBeNull();
        again!.Subject.Should().Be("alice");
        again.Workspace.Should().Be("default");
        again.Roles.Should().Equal(Roles.Annotator);
        again.AccessToken.Should().Be(user.AccessToken);
        again.ExpiresAt.Should().Be(DateTimeOffset.FromUnixTimeSeconds(user.ExpiresAt.ToUnixTimeSeconds()));
        user.ToPrincipal().IsInRole(Roles.Annotator).Should().BeTrue();
    }

    [Fact]
    public void An_anonymous_principal_is_nobody()
    {
        SignedInUser.From(new System.Security.Claims.ClaimsPrincipal()).Should().BeNull();
    }

    [Theory]
    [InlineData(Roles.Viewer, false, false, false)]
    [InlineData(Roles.Annotator, true, false, false)]
    [InlineData(Roles.MetricEditor, false, false, true)]
    [InlineData(Roles.Admin, true, true, true)]
    public void Each_role_is_offered_what_the_services_allow_it(string role, bool annotate, bool resolve, bool edit)
    {
        var user = UserWith(role);

        user.Can(Policies.Read).Should().BeTrue();
        user.Can(Policies.Annotate).Should().Be(annotate);
        user.Can(Policies.Resolve).Should().Be(resolve);
        user.Can(Policies.Edit).Should().Be(edit);
    }
}
