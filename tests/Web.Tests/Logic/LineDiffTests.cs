using MetricAlignment.Web.Logic;

namespace MetricAlignment.Web.Tests.Logic;

public sealed class LineDiffTests
{
    static string Render(IEnumerable<DiffLine> diff) =>
        string.Join("\n", diff.Select(l => (l.Kind switch { DiffKind.Added => "+", DiffKind.Removed => "-", _ => " " }) + l.Text));

    [Fact]
    public void Identical_texts_are_all_unchanged_lines()
    {
        var diff = LineDiff.Compute("a\nb\nc", "a\nb\nc");

        LineDiff.Unchanged(diff).Should().BeTrue();
        diff.Select(l => (l.OldLine, l.NewLine)).Should().Equal((1, 1), (2, 2), (3, 3));
    }

    [Fact]
    public void An_inserted_line_is_added_between_the_kept_ones_with_both_numberings()
    {
        var diff = LineDiff.Compute("a\nb\nc", "a\nb\nnew\nc");

        Render(diff).Should().Be(" a\n b\n+new\n c");
        diff[2].Should().Be(new DiffLine(DiffKind.Added, "new", null, 3));
        diff[3].Should().Be(new DiffLine(DiffKind.Same, "c", 3, 4));
    }

    [Fact]
    public void A_changed_line_shows_as_the_old_line_removed_before_the_new_one_added()
    {
        var diff = LineDiff.Compute("score 1 to 5\nbe strict\nend", "score 1 to 5\nbe lenient\nend");

        Render(diff).Should().Be(" score 1 to 5\n-be strict\n+be lenient\n end");
        LineDiff.Count(diff).Should().Be((1, 1));
    }

    [Fact]
    public void The_common_subsequence_is_the_longest_one_not_the_first_match()
    {
        // A greedy matcher would pair the leading "x" lines and lose "a b c"; LCS keeps a, b, c.
        var diff = LineDiff.Compute("a\nb\nc\nx", "x\na\nb\nc");

        Render(diff).Should().Be("+x\n a\n b\n c\n-x");
    }

    [Fact]
    public void An_empty_side_makes_every_line_added_or_removed()
    {
        Render(LineDiff.Compute("", "one\ntwo")).Should().Be("+one\n+two");
        Render(LineDiff.Compute("one\ntwo", null)).Should().Be("-one\n-two");
        LineDiff.Compute(null, null).Should().BeEmpty();
    }

    [Fact]
    public void Windows_line_endings_do_not_count_as_changes()
    {
        LineDiff.Unchanged(LineDiff.Compute("a\r\nb\r\n", "a\nb\n")).Should().BeTrue();
    }

    [Fact]
    public void A_middle_too_large_for_the_table_is_shown_replaced_whole_but_keeps_the_shared_head_and_tail()
    {
        var size = (int)Math.Sqrt(LineDiff.MaxTableCells) + 10;
        var oldText = "head\n" + string.Join("\n", Enumerable.Range(0, size).Select(i => $"old {i}")) + "\ntail";
        var newText = "head\n" + string.Join("\n", Enumerable.Range(0, size).Select(i => $"new {i}")) + "\ntail";

        var diff = LineDiff.Compute(oldText, newText);

        diff[0].Should().Be(new DiffLine(DiffKind.Same, "head", 1, 1));
        diff[^1].Should().Be(new DiffLine(DiffKind.Same, "tail", size + 2, size + 2));
        LineDiff.Count(diff).Should().Be((size, size));
    }
}
