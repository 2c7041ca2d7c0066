using System.Text.Json;
using GroundSharp.Eval;
using Xunit;
using static TorchSharp.torch;

namespace GroundSharp.Tests.Eval;

/// <summary>
/// The 40 pointing-game items of albef-tiny-A, which the official grounding_eval_flickr / grounding_eval computed
/// on tensors/pg_heatmaps.f32: reproduced item by item and metric by metric.
/// </summary>
public class OfficialGroundingEvalFixtureTests
{
    private static JsonElement Section => FixtureData.Manifest.GetProperty("pointing_game");

    private static readonly Lazy<Tensor> StackedGrids = new(() => FixtureData.Load("pg_heatmaps.f32"));

    private static IReadOnlyList<Tensor> Grids => OfficialGroundingEval.Unstack(StackedGrids.Value);

    private static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static (int X, int Y) Point(JsonElement array) => (array[0].GetInt32(), array[1].GetInt32());

    private static bool Flag(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number ? value.GetInt32() != 0 : value.GetBoolean();

    private static List<JsonElement> FlickrJson => Section.GetProperty("flickr").GetProperty("items").EnumerateArray().ToList();

    private static List<JsonElement> RefJson => Section.GetProperty("refcoco").GetProperty("items").EnumerateArray().ToList();

    private static List<FlickrGroundingItem> FlickrItems => FlickrJson.Select(e => new FlickrGroundingItem(
        e.GetProperty("split").GetString()!, e.GetProperty("image_height").GetInt32(), e.GetProperty("image_width").GetInt32(),
        e.GetProperty("gt_boxes_xyxy").EnumerateArray().Select(b => Box.FromXyxy(Doubles(b))).ToList())).ToList();

    private static List<RefGroundingItem> RefItems => RefJson.Select(e => new RefGroundingItem(
        e.GetProperty("split").GetString()!, e.GetProperty("image_height").GetInt32(), e.GetProperty("image_width").GetInt32(),
        Box.FromXywh(Doubles(e.GetProperty("ref_box_xywh"))),
        e.GetProperty("dets_xywhs").EnumerateArray().Select(d => Box.FromXywh(Doubles(d))).ToList())).ToList();

    private static JsonElement Run(string name) => Section.GetProperty("refcoco").GetProperty("runs").GetProperty(name);

    private static void AssertMetrics(JsonElement expected, IReadOnlyDictionary<string, double> actual)
    {
        var expectedPairs = expected.EnumerateObject().Select(p => (p.Name, p.Value.GetDouble())).ToList();
        Assert.Equal(expectedPairs, actual.Select(p => (p.Key, p.Value)).ToList());
    }

    [Fact]
    public void FixtureHasOneHeatmapPerItemOfEachFunction()
    {
        long items = FixtureData.TensorDim("pg_heatmaps.f32", 0);
        Assert.True(items > 0);
        Assert.Equal(items, StackedGrids.Value.shape[0]);
        Assert.Equal(items, FlickrJson.Count);
        Assert.Equal(items, RefJson.Count);
    }

    [Fact]
    public void EveryPredictedPointMatchesTheOfficialOne()
    {
        var grids = Grids;
        var mismatches = new List<string>();
        foreach (var (e, i) in FlickrJson.Select((e, i) => (e, i)))
        {
            int height = e.GetProperty("image_height").GetInt32(), width = e.GetProperty("image_width").GetInt32();
            using var up = Heatmaps.UpsampleBicubic(grids[i], height, width);
            var point = Heatmaps.FirstArgmax(up);
            var expected = Point(e.GetProperty("pred_point_xy"));
            using var top = up.reshape(-1).topk(2).values;
            float max = top[0].item<float>(), next = top[1].item<float>();
            double expectedMax = e.GetProperty("upsampled_max").GetDouble();
            double expectedMargin = e.GetProperty("margin_to_next_value").GetDouble();
            // The fixture came from libtorch 1.13 and we run 2.10: the bicubic values agree to about 1e-6 of
            // the map's maximum, not bit for bit, so the points agree wherever the margin is larger than that.
            if (point != expected || Math.Abs(max - expectedMax) > 1e-6 * Math.Abs(expectedMax) || next >= max)
                mismatches.Add($"item {i}: point {point} vs {expected}, max {max:R} vs {expectedMax:R}, " +
                               $"margin {max - next:R} vs official {expectedMargin:R}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void FlickrPointingMatchesItemByItemAndMetrics()
    {
        var result = OfficialGroundingEval.FlickrPointing(Grids, FlickrItems);
        foreach (var (e, i) in FlickrJson.Select((e, i) => (e, i)))
        {
            Assert.Equal(Point(e.GetProperty("pred_point_xy")), (result.Items[i].X, result.Items[i].Y));
            Assert.True(Flag(e.GetProperty("hit")) == result.Items[i].Hit, $"item {i} hit");
        }
        AssertMetrics(Section.GetProperty("flickr").GetProperty("metrics"), result.Metrics);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RefPointingMatchesItemByItemAndMetrics(bool subset)
    {
        var run = Run($"on_bbox=False,subset={(subset ? "True" : "False")}");
        var result = OfficialGroundingEval.RefPointing(Grids, RefItems, subset);
        var expected = run.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(FixtureData.TensorDim("pg_heatmaps.f32", 0), expected.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(Point(expected[i].GetProperty("pred_point_xy")), (result.Items[i].X, result.Items[i].Y));
            Assert.True(Flag(expected[i].GetProperty("hit")) == result.Items[i].Hit, $"item {i} hit");
        }
        AssertMetrics(run.GetProperty("metrics"), result.Metrics);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RefBoxRankingMatchesItemByItemAndMetrics(bool subset)
    {
        var run = Run($"on_bbox=True,subset={(subset ? "True" : "False")}");
        var result = OfficialGroundingEval.RefBoxRanking(Grids, RefItems, subset, alpha: 0.5);
        var expected = run.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(FixtureData.TensorDim("pg_heatmaps.f32", 0), expected.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var outcome = result.Items[i];
            var expectedXywh = Doubles(expected[i].GetProperty("pred_box_xywh"));
            var proposals = RefJson[i].GetProperty("dets_xywhs").EnumerateArray().Select(d => Doubles(d)[..4]).ToList();
            int expectedIndex = proposals.FindIndex(d => d.SequenceEqual(expectedXywh));
            Assert.True(expectedIndex >= 0, $"item {i}: the official box is one of the proposals");
            Assert.Equal(expectedIndex, outcome.ChosenIndex);
            Assert.Equal(expected[i].GetProperty("iou").GetDouble(), outcome.Iou, 1e-12);
            Assert.True(Flag(expected[i].GetProperty("correct")) == outcome.Correct, $"item {i} correct");
        }
        AssertMetrics(run.GetProperty("metrics"), result.Metrics);
    }

    [Fact]
    public void ProposalScoresMatchTheOfficialRecomputedScores()
    {
        var grids = Grids;
        var items = RefItems;
        foreach (var (e, i) in RefJson.Select((e, i) => (e, i)))
        {
            using var up = Heatmaps.UpsampleBicubic(grids[i], items[i].ImageHeight, items[i].ImageWidth);
            var scores = BoxSelection.Scores(up, items[i].Proposals, 0.5);
            var expected = Doubles(e.GetProperty("det_scores_recomputed"));
            for (int j = 0; j < scores.Length; j++)
                Assert.True(Math.Abs(scores[j] - expected[j]) <= 1e-6 * Math.Max(1, Math.Abs(expected[j])),
                    $"item {i} proposal {j}: {scores[j]:R} vs {expected[j]:R}");
            var ranked = scores.OrderDescending().ToArray();
            // A difference of two float32 scores: compare relative to the scores themselves.
            Assert.Equal(e.GetProperty("best_minus_second_score").GetDouble(), ranked[0] - ranked[1], 1e-6 * Math.Max(1, ranked[0]));
        }
    }
}
