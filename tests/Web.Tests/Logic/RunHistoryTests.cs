using MetricAlignment.Web.Clients;
using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class RunHistoryTests
{
    static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    // Run n was created n minutes after Start; pages are newest first, like the API's.
    static AlignmentRun Run(int n, string status = "aligned") =>
        new() { Id = new Guid(n, 0, 0, new byte[8]), Status = status, CreatedAt = Start.AddMinutes(n) };

    static List<AlignmentRun> Page(int newest, int count) => Enumerable.Range(0, count).Select(i => Run(newest - i)).ToList();

    [Fact]
    public void A_short_first_page_is_the_whole_history()
    {
        var history = new RunHistory();

        history.ReplaceNewest(Page(newest: 10, count: 10));

        history.Runs.Select(r => r.CreatedAt).Should().BeInDescendingOrder();
        history.Runs.Should().HaveCount(10);
        history.MayHaveOlder.Should().BeFalse();
    }

    [Fact]
    public void A_full_page_offers_older_runs_which_follow_it_from_the_oldest_shown()
    {
        var history = new RunHistory();
        history.ReplaceNewest(Page(newest: 120, count: RunHistory.PageSize));

        history.MayHaveOlder.Should().BeTrue();
        history.OldestShown.Should().Be(Run(120 - RunHistory.PageSize + 1).Id);

        history.AppendOlder(Page(newest: 120 - RunHistory.PageSize, count: 20));

        history.Runs.Should().HaveCount(RunHistory.PageSize + 20);
        history.Runs.Select(r => r.CreatedAt).Should().BeInDescendingOrder();
        history.MayHaveOlder.Should().BeFalse("the older page was not full");
    }

    [Fact]
    public void A_refresh_after_older_pages_keeps_them_and_the_run_a_new_one_pushed_off_the_newest_page()
    {
        var history = new RunHistory();
        history.ReplaceNewest(Page(newest: 100, count: RunHistory.PageSize));
        history.AppendOlder(Page(newest: 100 - RunHistory.PageSize, count: RunHistory.PageSize));
        var pushedOff = Run(100 - RunHistory.PageSize + 1);

        // Run 101 starts: the newest page now ends one run later, and run 51 is no longer on it.
        var newest = Page(newest: 101, count: RunHistory.PageSize);
        newest.Should().NotContain(r => r.Id == pushedOff.Id);
        history.ReplaceNewest(newest);

        history.Runs.Should().HaveCount(2 * RunHistory.PageSize + 1);
        history.Runs.Select(r => r.Id).Should().OnlyHaveUniqueItems().And.Contain(pushedOff.Id);
        history.Runs.Select(r => r.CreatedAt).Should().BeInDescendingOrder();
    }

    [Fact]
    public void A_refresh_shows_the_newest_state_of_a_run_already_listed()
    {
        var history = new RunHistory();
        history.ReplaceNewest([Run(2, "running"), Run(1)]);
        history.AppendOlder([]);

        history.ReplaceNewest([Run(2, "aligned"), Run(1)]);

        history.Runs.Should().HaveCount(2);
        history.Runs[0].Status.Should().Be("aligned");
    }

    [Fact]
    public void A_run_started_here_is_listed_first_before_the_next_read()
    {
        var history = new RunHistory();
        history.ReplaceNewest(Page(newest: 5, count: 5));

        history.Prepend(Run(6, "pending"));

        history.Runs[0].Id.Should().Be(Run(6).Id);
        history.Runs.Should().HaveCount(6);
    }
}
