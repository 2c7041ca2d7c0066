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
}
