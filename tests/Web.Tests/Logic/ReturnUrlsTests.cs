using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class ReturnUrlsTests
{
    [Theory]
    [InlineData("/metrics/relevance", "/metrics/relevance")]
    [InlineData("/evaluations?after=1#row", "/evaluations?after=1#row")]
    [InlineData("/", "/")]
    public void A_path_of_this_site_is_kept(string returnUrl, string expected)
    {
        ReturnUrls.Safe(returnUrl).Should().Be(expected);
    }

    [Theory]
    [InlineData("//evil.example/phish")]
    [InlineData("/\\evil.example")]
    [InlineData("https://evil.example/")]
    [InlineData("javascript:alert(1)")]
    [InlineData("/\t/evil.example")]
    [InlineData("metrics")]
    [InlineData("")]
    [InlineData(null)]
    public void An_address_that_could_leave_the_site_becomes_the_home_page(string? returnUrl)
    {
        ReturnUrls.Safe(returnUrl).Should().Be("/");
    }

    [Fact]
    public void The_sign_in_address_carries_the_page_to_come_back_to()
    {
        ReturnUrls.SignIn("/metrics/relevance").Should().Be("/signin?returnUrl=%2Fmetrics%2Frelevance");
        ReturnUrls.SignIn("/").Should().Be("/signin");
        ReturnUrls.SignIn("//evil.example").Should().Be("/signin");
    }
}
