using GroundSharp.Training;
using Xunit;

namespace GroundSharp.Tests.Training;

public class TrainConfigTests
{
    private static TrainConfig Parse(string extra) =>
        TrainConfig.Parse($$"""{ "data": { "files": ["samples.jsonl"] } {{extra}} }""", "/tmp", "t.json");

    [Fact]
    public void ItmRandomNegatives_DefaultsToAlbef_ParsesAndIsRangeChecked()
    {
        Assert.Equal(0, Parse("").ItmRandomNegatives);
        Assert.Equal(0.25, Parse(", \"itm_random_negatives\": 0.25").ItmRandomNegatives);
        var e = Assert.Throws<GroundSharpException>(() => Parse(", \"itm_random_negatives\": 1.5"));
        Assert.Contains("t.json: itm_random_negatives (1.5) must be in [0, 1]", e.Message);
    }

    [Fact]
    public void ItmSwapNegatives_DefaultsToNone_ParsesItsWordClassesAndChecksThem()
    {
        Assert.Equal(0, Parse("").ItmSwapNegatives);
        Assert.Null(Parse("").SwapWordClasses);
        var c = Parse(", \"itm_swap_negatives\": 0.5, \"swap_word_classes\": [[\"red\", \"blue\"], [\"cat\", \"dog\"]]");
        Assert.Equal(0.5, c.ItmSwapNegatives);
        Assert.Equal(new[] { "cat", "dog" }, c.SwapWordClasses![1]);
        Assert.Contains("t.json: itm_swap_negatives (2) must be in [0, 1]", Assert.Throws<GroundSharpException>(() => Parse(", \"itm_swap_negatives\": 2")).Message);
        Assert.Contains("t.json: swap_word_classes: the class [red] needs at least two words",
            Assert.Throws<GroundSharpException>(() => Parse(", \"swap_word_classes\": [[\"red\"]]")).Message);
    }

    [Theory]
    [InlineData("""{ "data": { "files": "samples.jsonl" } }""", "'data.files' must be a list of strings")]
    [InlineData("""{ "batch_size": "eight" }""", "'batch_size' must be an integer")]
    [InlineData("""{ "objectives": { "mlm": 1 } }""", "'objectives.mlm' must be true or false")]
    [InlineData("""{ "data": { "fils": [] } }""", "unknown key 'fils' in 'data'")]
    public void ValueOfTheWrongKind_NamesTheKeyAndWhatIsValid_NotADotNetType(string json, string expected)
    {
        var e = Assert.Throws<GroundSharpException>(() => TrainConfig.Parse(json, "/tmp", "t.json"));
        Assert.Contains("t.json: " + expected, e.Message);
        Assert.DoesNotContain("System.", e.Message);
        Assert.DoesNotContain("`1", e.Message);
    }
}
