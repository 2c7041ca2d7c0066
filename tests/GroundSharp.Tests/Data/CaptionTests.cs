using GroundSharp.Data;
using Xunit;

namespace GroundSharp.Tests.Data;

/// <summary>Expected values follow ALBEF's pre_caption (dataset/utils.py) step by step.</summary>
public class CaptionTests
{
    [Theory]
    [InlineData("A Brown Dog", "a brown dog")]
    [InlineData("the dog's ball, (red)!", "the dogs ball red")]
    [InlineData("what? \"this\" *is* #1: yes; ok~.", "what this is 1 yes ok")]
    [InlineData("well-known t-shirt", "well known t shirt")]
    [InlineData("left/right", "left right")]
    [InlineData("a - b", "a b")]
    [InlineData("  two   spaces  ", "two spaces")]
    [InlineData("line\n", "line")]
    [InlineData("a\tb", "a\tb")]            // a single tab is not a run of 2+, so Python keeps it
    [InlineData("a \t b", "a b")]
    [InlineData("end\t", "end\t")]          // strip(' ') removes spaces only
    [InlineData("keep [brackets] & @ 50%", "keep [brackets] & @ 50%")]
    public void Cleans_like_albef(string input, string expected) =>
        Assert.Equal(expected, Caption.PreCaption(input));

    [Fact]
    public void Keeps_at_most_max_words()
    {
        Assert.Equal("one two three", Caption.PreCaption("one two three four five", maxWords: 3));
        Assert.Equal("one two", Caption.PreCaption("one two", maxWords: 3));
        var forty = string.Join(' ', Enumerable.Range(0, 40).Select(i => $"w{i}"));
        Assert.Equal(30, Caption.PreCaption(forty).Split(' ').Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("?!...")]
    [InlineData(" - / ")]
    public void Nothing_left_gives_empty_string(string input) =>
        Assert.Equal("", Caption.PreCaption(input));
}
